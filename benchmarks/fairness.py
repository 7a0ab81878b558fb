"""Time segaudit's fairness audit against fairlearn's MetricFrame on the same per-image table.

    .venv/bin/python benchmarks/fairness.py                        # the issue's figure: 100,000 images
    .venv/bin/python benchmarks/fairness.py --n 5000 --fairlearn one --fairlearn-boot 100   # a quick look

Data (seeded): n images with 4 attributes, skin_tone (10 Monk levels, 2 % unknown), body_shape (3 values),
age_group (5 values), height_cm (continuous: quartile bins, plus a trend), and 2 intersections
(skin_tone x body_shape, age_group x body_shape); per-image IoU from a Beta around 0.9 (sd 0.05) with a
2-point shortfall for the three darkest tones.

segaudit: `audit_fairness` does everything the audit reports (per-group t-intervals, Welch tests of each group
against the rest, the largest gap with simultaneous bounds, Holm over the audit, Kruskal-Wallis, Mann-Whitney
and Cliff's delta, power, verdicts, the trend with B bootstrap resamples); writing fairness.json, the CSVs and
the plots is timed separately.
fairlearn: `MetricFrame(metrics=mean per-image IoU, n_boot=...)` gives each group's mean and bootstrap
quantiles, nothing more. `--fairlearn all` runs it on the same 6 groupings (intersections as two sensitive
features), `one` on skin_tone alone (then the ratio is against segaudit's audit of skin_tone alone), `skip`
skips it. Other processes on the machine slow both; the load average is printed beside the timings.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segaudit.audit.fairness import FairnessConfig, audit_fairness, write_outputs  # noqa: E402
from segaudit.audit.fairness.subgroups import attribute_grouping  # noqa: E402
from segaudit.models.data import AttributeSpec  # noqa: E402

MONK = tuple(f"monk_{i:02d}" for i in range(1, 11))
SPECS = {
    "skin_tone": AttributeSpec("skin_tone", "ordinal", True, "annotated", values=MONK),
    "body_shape": AttributeSpec("body_shape", "ordinal", True, "annotated", values=("slim", "average", "broad")),
    "age_group": AttributeSpec("age_group", "ordinal", True, "annotated",
                               values=("child", "young", "adult", "middle", "senior")),
    "height_cm": AttributeSpec("height_cm", "continuous", False, "self-reported", unit="cm", range=(50, 250)),
}
INTERSECTIONS = (("skin_tone", "body_shape"), ("age_group", "body_shape"))


def make_table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tone = rng.choice(np.array([*MONK, "unknown"], dtype=object), n, p=[0.098] * 10 + [0.02])
    shape = rng.choice(np.array(["slim", "average", "broad"], dtype=object), n)
    age = rng.choice(np.array(SPECS["age_group"].values, dtype=object), n)
    height = rng.normal(170, 10, n).clip(120, 210)
    mean = np.where(np.isin(tone, MONK[-3:]), 0.88, 0.90)
    total = mean * (1 - mean) / 0.05**2 - 1
    iou = rng.beta(mean * total, (1 - mean) * total)
    return pd.DataFrame({"id": [f"img{i:07d}" for i in range(n)], "skin_tone": tone, "body_shape": shape,
                         "age_group": age, "height_cm": height, "iou": iou})


def time_segaudit(table: pd.DataFrame, config: FairnessConfig, outputs: bool) -> tuple[float, float | None]:
    start = time.perf_counter()
    result = audit_fairness(table, SPECS, config)
    audit_s = time.perf_counter() - start
    if not outputs:
        return audit_s, None
    with tempfile.TemporaryDirectory(prefix="fairness-bench-") as tmp:
        start = time.perf_counter()
        write_outputs(result, Path(tmp) / "out", table)
        return audit_s, time.perf_counter() - start


def time_fairlearn(table: pd.DataFrame, groupings: list[list[str]], n_boot: int) -> float:
    from fairlearn.metrics import MetricFrame

    labels = {name: [attribute_grouping(table, SPECS[name]).labels[c]
                     for c in attribute_grouping(table, SPECS[name]).codes] for name in SPECS}
    y = table["iou"].to_numpy()
    start = time.perf_counter()
    for names in groupings:
        features = pd.DataFrame({name: labels[name] for name in names})
        MetricFrame(metrics=lambda y_true, y_pred: float(np.mean(y_true)), y_true=y, y_pred=y,
                    sensitive_features=features if len(names) > 1 else features[names[0]], n_boot=n_boot,
                    ci_quantiles=[0.025, 0.975], random_state=0)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="images (default 100,000)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="segaudit's bootstrap resamples (2000)")
    parser.add_argument("--fairlearn", choices=("all", "one", "skip"), default="all",
                        help="fairlearn on all 6 groupings, on skin_tone only, or not at all (default all)")
    parser.add_argument("--fairlearn-boot", type=int, default=1000, help="fairlearn's n_boot (default 1000)")
    parser.add_argument("--no-outputs", action="store_true", help="do not time writing the outputs and plots")
    parser.add_argument("--workers", type=int, default=1, help="segaudit's threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    table = make_table(args.n, args.seed)
    print(f"cores: {os.cpu_count()}  load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{args.n} images, 4 attributes + 2 intersections, segaudit B={args.bootstrap} ({args.workers} thread(s)), "
          f"fairlearn n_boot={args.fairlearn_boot}")
    full = FairnessConfig(bootstrap=args.bootstrap, intersections=INTERSECTIONS, seed=args.seed, workers=args.workers)
    audit_s, outputs_s = time_segaudit(table, full, outputs=not args.no_outputs)
    print(f"segaudit full audit (6 groupings + trend): {audit_s:.2f} s"
          + ("" if outputs_s is None else f"; writing json/csv/table/plots: {outputs_s:.2f} s"))
    if args.fairlearn == "skip":
        return 0
    if args.fairlearn == "all":
        groupings = [[name] for name in SPECS] + [list(pair) for pair in INTERSECTIONS]
        fair_s = time_fairlearn(table, groupings, args.fairlearn_boot)
        print(f"fairlearn MetricFrame on the same 6 groupings: {fair_s:.2f} s")
        print(f"ratio fairlearn / segaudit (audit only): {fair_s / audit_s:.1f}x")
    else:
        one = FairnessConfig(bootstrap=args.bootstrap, attributes=("skin_tone",), seed=args.seed)
        one_s, _ = time_segaudit(table, one, outputs=False)
        fair_s = time_fairlearn(table, [["skin_tone"]], args.fairlearn_boot)
        print(f"segaudit audit of skin_tone alone (11 groups, with its trend): {one_s:.2f} s")
        print(f"fairlearn MetricFrame on skin_tone: {fair_s:.2f} s")
        print(f"ratio fairlearn / segaudit (skin_tone): {fair_s / one_s:.1f}x")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
