"""Operating characteristics of the fairness verdicts, measured by seeded simulation (the README's table).

    .venv/bin/python benchmarks/fairness_validity.py            # R = 400 audits per rate, 2,000 per coverage
    .venv/bin/python benchmarks/fairness_validity.py --quick    # R = 100 / 500, a quick look
    .venv/bin/python benchmarks/fairness_validity.py --scale-only

Every row runs the real `audit_fairness` (audit/fairness/validity.py) on per-image IoU drawn from Beta
distributions with mean 0.90 and sd 0.05 (left-skewed, like a good person segmenter's), margin 1 point,
alpha 0.05, Holm over the whole audit, minimum group size 30 — the defaults. Each rate is printed with its
Monte-Carlo standard error and the bound it must meet, and the scale rows time the 10,000-group and
1,000,000-image cases in a child process on one core (wall time and peak memory, outputs included).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segaudit.audit.fairness import FairnessConfig  # noqa: E402
from segaudit.audit.fairness.validity import Attribute, detectable_check, group_coverage, verdict_rates  # noqa: E402

M = 0.01  # the margin, 1 point
NULL = [Attribute("a", (300,) * 4), Attribute("b", (400,) * 3), Attribute("c", (240,) * 5), Attribute("d", (600,) * 2)]


def one_group(n: int, shift: float, others: int = 300, groups: int = 4) -> list[Attribute]:
    """An attribute whose last group (n images) is `shift` away from the others (`others` images each)."""
    return [Attribute("g", (others,) * (groups - 1) + (n,), (0.0,) * (groups - 1) + (shift,))]


def rate_rows(r: int) -> list[tuple[str, str, float, float, str]]:
    """(what, measure, rate, Monte-Carlo se, bound) per row."""
    rows = []

    def add(what: str, measure: str, rates, value: float, bound: str) -> None:
        rows.append((what, measure, value, rates.error(value), bound))
        print(f"  {what}: {measure} {100 * value:.1f} %", flush=True)

    ab = (("a", "b"),)
    for family in ("audit", "grouping"):
        rates = verdict_rates(NULL, replicates=r, seed=100, intersections=ab, config=FairnessConfig(family=family))
        label = "Holm over the whole audit" if family == "audit" else "Holm per attribute (older rule)"
        add(f"no disparity, 4 attributes + 1 intersection, 1,200 images; {label}", "attribute fails",
            rates, rates.attribute_fail, "<= 5 %")
        add(f"no disparity, 4 attributes + 1 intersection, 1,200 images; {label}", "whole audit fails",
            rates, rates.audit_fail, "<= 5 %" if family == "audit" else "(not controlled)")
    for family in ("audit", "grouping"):
        rates = verdict_rates(NULL, replicates=r, seed=101, intersections=ab,
                              config=FairnessConfig(margin=0.0, family=family))
        label = "Holm over the whole audit" if family == "audit" else "Holm per attribute (older rule)"
        add(f"no disparity, margin 0 (every test is against zero), as above; {label}", "attribute fails", rates,
            rates.attribute_fail, "<= 5 %")
        add(f"no disparity, margin 0 (every test is against zero), as above; {label}", "whole audit fails", rates,
            rates.audit_fail, "<= 5 %" if family == "audit" else "(not controlled)")
    rates = verdict_rates(NULL, replicates=r, seed=102, intersections=ab,
                          config=FairnessConfig(margin=0.0, correction="bh"))
    add("no disparity, margin 0, as above; Benjamini-Hochberg over the audit", "whole audit fails", rates,
        rates.audit_fail, "<= 5 %")
    boundary = [Attribute(a.name, a.sizes, (0.0,) * (len(a.sizes) - 1) + (-M,)) for a in NULL]
    rates = verdict_rates(boundary, replicates=r, seed=103)  # no intersection: its cells would add two shortfalls
    add("each of the 4 attributes has one group short by exactly the margin (the least favourable fair case)",
        "whole audit fails", rates, rates.audit_fail, "<= 5 %")
    for n in (300, 2000):
        rates = verdict_rates(one_group(n, -M, others=n), replicates=r, seed=102 + n)
        add(f"one group of 4 short by exactly the margin (1.00 pt), {n:,} per group", "fails", rates,
            rates.attribute_fail, "<= 5 %")
    rates = verdict_rates(one_group(300, -0.008), replicates=r, seed=104)
    add("one group short by 0.80 pt (margin 1.00), 300 per group", "fails", rates, rates.attribute_fail, "<= 5 %")
    rates = verdict_rates(one_group(300, -0.02), replicates=r, seed=105)
    add("one group short by 2.00 pt, 300 per group (power)", "fails", rates, rates.attribute_fail, "(power)")
    reported, fail = detectable_check(300, 4, replicates=r, seed=106)
    rows.append((f"one group short by the detectable shortfall the audit reports at n=300 ({100 * reported:.2f} pt)",
                 "fails", fail, float((fail * (1 - fail) / r) ** 0.5), ">= 80 % (the power asked)"))
    print(f"  detectable {100 * reported:.2f} pt: fails {100 * fail:.1f} %", flush=True)
    for n in (2, 5, 30):
        rates = verdict_rates(one_group(n, -0.03), replicates=r, seed=107 + n)
        add(f"one group of n={n} short by 3.00 pt (others 300)", "passes", rates, rates.attribute_pass,
            "0 % below 30, <= 5 % at 30")
    for n in (30, 300):
        rates = verdict_rates(one_group(n, -M), replicates=r, seed=110 + n)
        add(f"one group of n={n} short by exactly the margin (others 300)", "passes", rates, rates.attribute_pass,
            "<= 5 %")
    hidden = [Attribute("g", (1500,) * 6 + (150,), (0.0,) * 6 + (0.06,))]
    rates = verdict_rates(hidden, replicates=r, seed=120)
    add("six groups of 1,500 at 0.90 and one of 150 at 0.96 (a 6-point gap)", "passes", rates,
        rates.attribute_pass, "0 %")
    add("six groups of 1,500 at 0.90 and one of 150 at 0.96 (a 6-point gap)", "fails", rates,
        rates.attribute_fail, "(power)")
    subjects = [Attribute("a", (300,) * 4), Attribute("b", (400,) * 3)]
    for use in (True, False):
        options = {"photos_per_subject": 5, "subject_sd": 0.03}
        rates = verdict_rates(subjects, replicates=r, seed=130, config=FairnessConfig(
            margin=0.0, subject_column="subject_id" if use else "no_such_column"), **options)
        add(f"no disparity, margin 0, 5 photos per person (person sd 3 pt), 1,200 images; "
            f"{'subjects as the unit' if use else 'images treated as independent'}", "whole audit fails", rates,
            rates.audit_fail, "<= 5 %" if use else "(inflated)")
    return rows


def coverage_rows(r: int) -> list[tuple[str, float, float, float]]:
    rows = []
    for n in (5, 10, 30, 300):
        cov = group_coverage(n, replicates=r, seed=200 + n)
        rows.append((f"group of n={n} images (rest 900)", cov["mean"], cov["shortfall_upper"], cov["shortfall_lower"]))
        print(f"  n={n}: {cov}", flush=True)
    for use in (True, False):
        cov = group_coverage(100, replicates=r, seed=300, photos_per_subject=5, subject_sd=0.03, use_subjects=use)
        what = "subjects as the unit" if use else "images treated as independent"
        rows.append((f"100 images of 20 people (person sd 3 pt; {what})", cov["mean"], cov["shortfall_upper"],
                     cov["shortfall_lower"]))
        print(f"  subjects {use}: {cov}", flush=True)
    return rows


SCALE_CHILD = r"""
import sys, time, tempfile, resource
from pathlib import Path
sys.path.insert(0, {root!r})
import numpy as np, pandas as pd
from segaudit.audit.fairness import FairnessConfig, audit_fairness, write_outputs
case = {case!r}
rng = np.random.default_rng(0)
started = time.perf_counter()
if case == "groups":
    n = 20000
    table = pd.DataFrame({{"id": [f"i{{i}}" for i in range(n)], "iou": rng.beta(32.4, 3.6, n),
                          "who": np.repeat([f"v{{i:05d}}" for i in range(10000)], 2)}})
    config = FairnessConfig(attributes=("who",))
else:
    n = 1_000_000
    table = pd.DataFrame({{"id": np.char.add("i", np.arange(n).astype(str)), "iou": rng.beta(32.4, 3.6, n),
                          "tone": rng.choice([f"monk_{{i:02d}}" for i in range(1, 11)], n),
                          "shape": rng.choice(["slim", "average", "broad"], n),
                          "age": rng.choice(["child", "adult", "senior"], n),
                          "light": rng.choice(["normal", "low", "backlit"], n)}})
    config = FairnessConfig(attributes=("tone", "shape", "age", "light"),
                            intersections=(("tone", "shape"), ("age", "light")))
built = time.perf_counter()
result = audit_fairness(table, None, config)
analysed = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    write_outputs(result, Path(tmp) / "out", table)
    size = sum(p.stat().st_size for p in (Path(tmp) / "out").rglob("*") if p.is_file())
done = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{built - started:.2f}} {{analysed - built:.2f}} {{done - analysed:.2f}} {{peak:.0f}} {{size}}")
"""


def scale_rows() -> list[tuple[str, str]]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = []
    root = str(Path(__file__).resolve().parents[1])
    for case, what in (("groups", "one attribute with 10,000 distinct values, 2 images each (20,000 images)"),
                       ("million", "1,000,000 images, 4 attributes + 2 intersections")):
        code = SCALE_CHILD.format(root=root, case=case)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        build, analyse, write, peak, size = out.stdout.split()
        rows.append((what, f"analysis {analyse} s + outputs (json, csv, table, plots) {write} s = "
                     f"{float(analyse) + float(write):.1f} s; peak memory {float(peak):,.0f} MiB; outputs "
                     f"{int(size) / 2**20:.1f} MiB (building the table: {build} s)"))
        print(f"  {what}: {rows[-1][1]}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 audits per rate, 500 per coverage")
    parser.add_argument("--scale-only", action="store_true", help="only the 10,000-group and 1,000,000-image rows")
    args = parser.parse_args()
    r, rc = (100, 500) if args.quick else (400, 2000)
    started = time.time()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}")
    if not args.scale_only:
        print("rates:")
        rates = rate_rows(r)
        print("coverage:")
        coverage = coverage_rows(rc)
    print("scale (one core):")
    scale = scale_rows()
    if not args.scale_only:
        print(f"\n| scenario (R = {r} audits each) | measure | rate | MC se | must be |\n|---|---|---|---|---|")
        for what, measure, value, se, bound in rates:
            print(f"| {what} | {measure} | {100 * value:.1f} % | {100 * se:.1f} | {bound} |")
        print(f"\n| interval coverage (R = {rc}; nominal 95 %) | group mean, two-sided | shortfall upper bound "
              "(pass side) | shortfall lower bound (fail side) |\n|---|---|---|---|")
        for what, mean, upper, lower in coverage:
            print(f"| {what} | {100 * mean:.1f} % | {100 * upper:.1f} % | {100 * lower:.1f} % |")
    print("\n| scale case (one core) | figures |\n|---|---|")
    for what, figures in scale:
        print(f"| {what} | {figures} |")
    print(f"\ntotal {time.time() - started:.0f} s; this process peak "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
