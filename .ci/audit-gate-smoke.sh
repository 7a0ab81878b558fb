#!/usr/bin/env bash
# A quick audit of a tiny synthetic fixture through the gate, as a CI pipeline runs it (part of `make test`).
# Tiny on purpose (60 images at 64 px, SINet for one epoch, 2 shadow models): it checks that the chain holds
# together and that the gate's exit codes mean what they say, not how fair the model is.
set -euo pipefail
BIN=${BIN:-.venv/bin}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
"$BIN/segaudit" data synth --out "$work/data" --n 60 --size 64 --seed 0 --skew-train --workers 1 >/dev/null
"$BIN/segaudit" train --data "$work/data" --model sinet --size 64 --epochs 1 --batch-size 8 --out "$work/run" \
  >/dev/null 2>&1
"$BIN/segaudit" audit --model "$work/run/best" --data "$work/data" --out "$work/audit" \
  --card-facts cards/alisnet.yaml --dataset-facts cards/synthetic-people.yaml --bootstrap 200 \
  --min-group-size 5 --shadow-models 2 --workers 1 --cache "$work/cache" 2>/dev/null | tail -n 3
"$BIN/segaudit" gate --audit "$work/audit" --policy tests/fixtures/smoke-gate.toml
# The project's own policy must give a verdict (0 passed or 1 failed), never a crash or bad input (2).
set +e
"$BIN/segaudit" gate --audit "$work/audit" --policy gate.toml >/dev/null
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then echo "gate with gate.toml exited $rc" >&2; exit 1; fi
test -s "$work/audit/gate-junit.xml" && test -s "$work/audit/gate-summary.md" && test -s "$work/audit/report.html"
echo "audit-gate smoke: ok (gate.toml verdict exit $rc)"
