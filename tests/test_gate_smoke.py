"""The audit-gate smoke run of CI (.ci/audit-gate-smoke.sh: synth -> train -> audit -> gate through the installed
`segaudit` command) as a test, so that it runs beside the others instead of after them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_tiny_audit_goes_through_the_gate_as_ci_runs_it() -> None:
    done = subprocess.run(["bash", str(REPO / ".ci" / "audit-gate-smoke.sh")], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "BIN": str(Path(sys.executable).parent)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "audit-gate smoke: ok (gate.toml verdict exit" in done.stdout
    assert "gate passed" in done.stdout  # the smoke policy passes; the project's policy gives a verdict (0 or 1)
