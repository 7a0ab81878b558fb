"""`segaudit fairness`: per-subgroup metrics with honest statistics, a thin layer over audit.fairness."""

from __future__ import annotations

import argparse
from pathlib import Path

from segaudit.app.cli.settings import default, given
from segaudit.app.cli.table import format_table
from segaudit.audit.fairness.config import FairnessConfig
from segaudit.core.errors import InputError

DESCRIPTION = """\
Does the model segment some people worse than others, and how sure are we?

Three ways in, one per-image table out (kept as OUT/table.csv):
  --model M --data DIR          run the model (checkpoint folder or .pte) over a split of the package
  --data DIR --predictions PRED score a folder of predicted masks PRED/<id>.png (from any model or runtime)
  --table T                     a per-image table (.csv or .parquet) with id, metric and attribute columns;
                                add --data DIR to take attribute kinds and value order from its dataset.yaml

Groups: every attribute (unknown values as the group 'unknown'); continuous attributes are binned (quartiles,
or --bins) and also tested as a trend (Spearman's rho with CI and p-value); --intersections a:b adds the cells
of two attributes. The unit is the subject when the table has a subject_id column (several photos of one
person count once in every interval and test), else the image, and the output says so.

Statistics per group: n, mean of the per-image metric (the pooled metric beside it) with its t-interval, and
its shortfall against the rest (Welch t). Per attribute: the largest gap between any two groups with
simultaneous bounds (selection accounted for), fairlearn's difference and ratio, FairSeg's equity-scaled metric,
Kruskal-Wallis, and per group Mann-Whitney and Cliff's delta (descriptive only). Power for the rules in use.

Verdict per attribute (m = --margin):
  fail          a group's shortfall is significantly beyond m (one-sided Welch test of shortfall <= m), or the
                largest gap between two groups is (max-T), after correction over every test of the audit
                (--correction holm: with no disparity anywhere the audit fails at most alpha of the time)
  pass          every group has at least --min-group-size subjects, every group's one-sided upper bound of
                its shortfall is below m and so is the largest gap's simultaneous upper bound
  inconclusive  anything else, with the reason and what the data could not detect: "not significant" alone
                never passes, and neither does a group too small to show anything

Writes OUT/fairness.json, OUT/fairness.csv, OUT/table.csv and OUT/plots/*.png (forest plot with the margin
band and distribution per attribute, heatmap per intersection), atomically. Metric values are fractions in
[0, 1]; --margin 0.01 is 1 IoU point. Exit code 0 whatever the verdicts (the gate judges them), 2 on bad
input."""

EPILOG = """\
examples:
  segaudit fairness --model runs/alisnet/best --data reports/synthetic --out reports/fairness
  segaudit fairness --data reports/synthetic --predictions phone_masks/ --intersections skin_tone:body_shape \\
      --out reports/fairness-phone
  segaudit fairness --table per_image.csv --attributes skin_tone,height_cm --bins height_cm=150,170,190 \\
      --correction bh --out reports/fairness-vendor"""


# options whose default is FairnessConfig's (None here: given or not)
OVERRIDES = ("metric", "margin", "alpha", "correction", "family", "permutations", "bootstrap", "seed", "workers",
             "min_group_size", "min_test_size")


def _d(name: str) -> object:
    return default(FairnessConfig, name)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("fairness", help="per-subgroup metrics, tests and verdicts (fairness audit)",
                            description=DESCRIPTION, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_argument_group("input (one of the three ways in)")
    source.add_argument("--model", type=Path, help="checkpoint folder (or run folder with best/) or .pte program")
    source.add_argument("--data", type=Path, help="dataset package folder")
    source.add_argument("--predictions", type=Path, help="folder of predicted masks <id>.png (class ids)")
    source.add_argument("--table", type=Path, help="per-image table, .csv or .parquet")
    source.add_argument("--split", choices=("train", "val", "test", "all"), default="test",
                        help="which images of the package to audit (default test)")
    source.add_argument("--batch-size", type=int, default=16, help="inference batch size for --model (16)")
    source.add_argument("--unit", choices=("image", "person"), default="image",
                        help="what one row is: an image (default) or, for packages with instance masks, a person "
                             "(IoU within the person's region, grouped by each person's own attributes; the "
                             "people of one image form one cluster)")
    what = p.add_argument_group("what to audit")
    what.add_argument("--metric",
                      help="metric column: iou (person IoU, or mean over classes), dice, boundary_iou, "
                      f"pixel_accuracy or iou_<class> (default {_d('metric')})")
    what.add_argument("--attributes", type=_names, default=None, metavar="A,B",
                      help="attributes to audit (default: all)")
    what.add_argument("--intersections", action="append", type=_pairs, default=[], metavar="A:B[,C:D]",
                      help="pairs of attributes whose cells are audited too (repeatable)")
    what.add_argument("--min-group-size", type=int,
                      help="subjects (images without subject_id) a group needs to count towards a pass; smaller "
                      f"groups make the attribute inconclusive (default {_d('min_group_size')})")
    what.add_argument("--min-test-size", type=int,
                      help="subjects a group needs to be tested for a shortfall at all "
                      f"(default {_d('min_test_size')})")
    what.add_argument("--bins", action="append", type=_bins, default=[], metavar="ATTR=C1,C2,...|ATTR=qK",
                      help="bins of a continuous attribute: cut points, or K quantile bins (default q4)")
    stats = p.add_argument_group("statistics")
    stats.add_argument("--margin", type=float,
                       help="largest shortfall that still counts as fair, as a fraction (default "
                       f"{_d('margin')} = {100 * _d('margin'):g} point)")
    stats.add_argument("--alpha", type=float, help=f"error rate; CIs are 1 - alpha (default {_d('alpha')})")
    stats.add_argument("--correction", choices=("holm", "bh"),
                       help="multiple comparisons over the fail tests: holm (family-wise error) or bh "
                       f"(Benjamini-Hochberg, false discovery rate); default {_d('correction')}")
    stats.add_argument("--family", choices=("audit", "grouping"),
                       help="which tests are corrected together: every attribute and intersection of the audit "
                       "(audit: error control for the whole verdict) or each attribute on its own (grouping); "
                       f"default {_d('family')}")
    stats.add_argument("--omnibus-permutation", action="store_true",
                       help="add a permutation test of the largest gap (slower: O(permutations x images))")
    stats.add_argument("--permutations", type=int,
                       help=f"resamples of permutation tests (default {_d('permutations')})")
    stats.add_argument("--bootstrap", type=int,
                       help=f"resamples of the trends' paired bootstrap (default {_d('bootstrap')})")
    stats.add_argument("--seed", type=int, help=f"seed of every resampling and simulation (default {_d('seed')})")
    stats.add_argument("--workers", type=int, help="threads analysing attributes side by side; same results for "
                       f"any number (default {_d('workers')})")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True,
                     help="output folder (new, empty, or a previous fairness output, which is replaced)")
    out.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(handler=run_fairness)


def run_fairness(args: argparse.Namespace) -> int:
    from segaudit.audit import metrics
    from segaudit.audit.fairness import audit_fairness, write_outputs
    from segaudit.models.data import load_package

    spec, source = None, None
    if args.table is not None:
        if args.model is not None or args.predictions is not None:
            raise InputError("give --table alone (optionally with --data for attribute kinds), not with "
                             "--model or --predictions", field="--table")
        table = metrics.read_table(args.table)
        source = args.table
        if args.data is not None:
            unit = "person" if metrics.INSTANCE in table.columns else "image"
            spec = metrics.unit_attributes(load_package(args.data).spec, unit)
    elif args.data is None:
        raise InputError("give one of: --model M --data DIR, --data DIR --predictions PRED, or --table T",
                         field="--data")
    elif args.model is not None and args.predictions is not None:
        raise InputError("give --model or --predictions, not both", field="--predictions")
    elif args.model is not None:
        package = load_package(args.data)
        metrics.check_unit(package, args.unit)
        spec = metrics.unit_attributes(package.spec, args.unit)
        from segaudit.models.runtime import Segmenter

        table = metrics.table_from_segmenter(Segmenter(args.model, batch_size=args.batch_size), package,
                                             split=args.split, progress=True, unit=args.unit)
    elif args.predictions is not None:
        package = load_package(args.data)
        spec = metrics.unit_attributes(package.spec, args.unit)
        table = metrics.table_from_predictions(package, args.predictions, split=args.split, progress=True,
                                               unit=args.unit)
    else:
        raise InputError("--data needs --model or --predictions (or use --table)", field="--data")

    config = FairnessConfig(
        **given(args, OVERRIDES), attributes=args.attributes,
        intersections=tuple(pair for group in args.intersections for pair in group), bins=dict(args.bins),
        omnibus_permutation=args.omnibus_permutation)
    result = audit_fairness(table, spec, config, source=source)
    write_outputs(result, args.out, table, plots=not args.no_plots)
    _print_summary(result)
    print(f"wrote {args.out}/fairness.json, fairness.csv, table.csv" + ("" if args.no_plots else ", plots/"))
    return 0


def _print_summary(result) -> None:
    rows = []
    for r in result.results():
        g = r.gap
        bounds = f"{100 * g.ci_low:.2f} to {100 * g.ci_high:.2f}" if g else "-"
        rows.append([r.name, len(r.groups), g.worst if g else "-", g.best if g else "-",
                     100 * g.gap if g else float("nan"), bounds, r.verdict])
    units = "people" if "per-person" in result.aggregation else "images"
    print(f"{result.n_images} {units}, metric {result.config.metric} ({result.aggregation}), "
          f"overall mean {result.overall['mean']:.4f}, margin {100 * result.config.margin:.2f} points")
    print(f"unit: {result.unit}; {result.family['tests']} fail tests, {result.family['controls']}")
    print(format_table(["attribute", "groups", "worst", "best", "max gap (pts)", "simultaneous bounds", "verdict"],
                       rows))
    for r in result.results():
        print(f"- {r.name}: {r.verdict}: {r.reason}")
    if result.derived:
        print(f"derived from the pixels, proxies rather than labels (see derived_evidence.csv of the package): "
              f"{', '.join(result.derived)}")
    for t in result.trends.values():
        if t.rho is None:
            print(f"- trend {t.attribute}: {t.note}")
        else:
            print(f"- trend {t.attribute} ({t.x}): rho {t.rho:+.3f} ({100 * t.confidence:g}% CI {t.ci_low:+.3f} to "
                  f"{t.ci_high:+.3f}), p={t.p_value:.3g}, n={t.n}")
    print(f"overall verdict: {result.verdict}")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated attribute names")
    return names


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(","):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 2 or not all(parts):
            raise argparse.ArgumentTypeError(f"expected A:B (two attribute names), got {item!r}")
        pairs.append((parts[0], parts[1]))
    return pairs


def _bins(text: str) -> tuple[str, int | list[float]]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise argparse.ArgumentTypeError(f"expected ATTR=C1,C2,... or ATTR=qK, got {text!r}")
    spec = spec.strip()
    try:
        if spec.lower().startswith("q"):
            return name.strip(), int(spec[1:])
        return name.strip(), [float(v) for v in spec.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cut points like 150,170,190 or quantiles like q4, got {spec!r}")\
            from None
