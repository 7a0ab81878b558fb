"""`segaudit data ...`: check, synthesize, preview, derive and import dataset packages."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from segaudit.app.cli.table import format_table
from segaudit.core.errors import InputError

FORMAT_HELP = (
    "A dataset package is a folder with dataset.yaml (name, version, description, license, provenance, "
    "classes, ignore_index, attributes), manifest.csv or manifest.parquet (id, image, mask, split and one "
    "column per attribute; empty = unknown), images/ and masks/ (PNG, one class id per pixel). See README."
)


def register(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="check, synthesize, preview, derive and import dataset packages",
                               description=FORMAT_HELP)
    sub = data.add_subparsers(title="data commands", metavar="COMMAND", required=True)

    check = sub.add_parser("check", help="validate a dataset package and summarise it",
                           description="Validate every part of a package (spec, manifest, every image and "
                           "mask) and print counts per split and per attribute value. Exit 2 on any problem, "
                           "with the file and row named. " + FORMAT_HELP)
    check.add_argument("package", type=Path, metavar="DIR", help="the dataset package folder")
    check.add_argument("--json", action="store_true", help="print the summary as JSON")
    check.set_defaults(handler=run_check)

    synth = sub.add_parser("synth", help="generate the synthetic people dataset (the embedded default)",
                           description="Write a dataset package of synthetic full-body people in the narrow "
                           "standing pose, with exact masks and Monk skin tone, body shape, age group, height "
                           "and lighting attributes. The same seed gives byte-identical files.")
    synth.add_argument("--out", type=Path, required=True, help="package folder to write")
    synth.add_argument("--n", type=int, default=600, help="number of images (default 600)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--size", type=int, default=128, help="image side in pixels, multiple of 32 (default 128)")
    synth.add_argument("--labels", choices=("person", "fashion"), default="person",
                       help="label set: person/background, or the 7 fashion classes (default person)")
    synth.add_argument("--split", type=_fractions, default=(0.7, 0.1, 0.2), metavar="TRAIN,VAL,TEST",
                       help="split fractions (default 0.7,0.1,0.2)")
    skew = synth.add_mutually_exclusive_group()
    skew.add_argument("--skew-train", action="store_true",
                      help="sample few dark Monk tones (monk_08..10) into train, the way real data is skewed")
    skew.add_argument("--weights", type=Path, metavar="YAML",
                      help="per-group sampling weights: {split: {attribute: {value: weight}}}")
    synth.add_argument("--skew-test", action="store_true",
                       help="with --skew-train: draw the test split with the same skew, so that a privacy audit's "
                       "members (train) and non-members (test) share one composition by design instead of by "
                       "subsampling (the fairness audit then has fewer dark-tone test images)")
    synth.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    synth.add_argument("--overwrite", action="store_true", help="replace an existing package at --out")
    synth.add_argument("--crowd", action="store_true",
                       help="write multi-person scenes instead (1-4 people, each with their own Monk tone; "
                       "instance masks and persons.csv; small, shaded, coloured-light and skin-coloured-clothes "
                       "cases) to test skin-tone derivation; not with --labels fashion, --skew-train, --weights")
    synth.set_defaults(handler=run_synth)

    preview = sub.add_parser("preview", help="write a PNG contact sheet of samples with their masks",
                             description="A grid of samples with a translucent mask overlay and attribute "
                             "captions, to look at a package before trusting it.")
    preview.add_argument("package", type=Path, metavar="DIR")
    preview.add_argument("--out", type=Path, required=True, help="PNG file to write")
    preview.add_argument("--n", type=int, default=32, help="number of samples (default 32)")
    preview.add_argument("--split", choices=("train", "val", "test"), default=None)
    preview.add_argument("--seed", type=int, default=0, help="which samples are drawn (default 0)")
    preview.add_argument("--no-overlay", action="store_true", help="show the images without masks")
    preview.set_defaults(handler=run_preview)

    derive = sub.add_parser("derive", help="add derived attributes (ITA skin tone, silhouette shape/height)",
                            description="For data without attribute labels: add ita_deg and ita_skin_tone "
                            "(Individual Typology Angle over skin pixels in CIELAB) and silhouette_aspect, "
                            "apparent_height and silhouette_shape from the person mask, declared with "
                            "source: derived. With instance masks (dataset.yaml schema 2) each person gets "
                            "their own values in persons.csv. Skin pixels are those of the person's head "
                            "whose colour can be skin (a* > 0, b* > 0, sane L*, not clipped, not in deep "
                            "shade); too few or too spread and the tone is unknown, with its reason in "
                            "derived_evidence.csv. Updates the package in place unless --out is given.",
                            epilog="example: segaudit data derive data/people --validate skin_tone  "
                                   "(kappa of the derived tone against the annotated Monk tone)")
    derive.add_argument("package", type=Path, metavar="DIR")
    derive.add_argument("--out", type=Path, default=None, help="write a new package here instead")
    derive.add_argument("--validate", metavar="ATTR", default=None,
                        help="afterwards, compare the derived ita_skin_tone with this annotated skin-tone "
                             "attribute (confusion matrix, weighted Cohen's kappa, Spearman rho); kept as "
                             "derived_validation.json for the dataset card")
    derive.add_argument("--white-balance", action="store_true",
                        help="neutralise the background's colour before measuring skin (helps under coloured "
                             "light, hurts with coloured walls; off by default, see README)")
    derive.add_argument("--json", action="store_true", help="print the validation as JSON")
    derive.set_defaults(handler=run_derive)

    importer = sub.add_parser("import", help="convert a folder, COCO, PennFudanPed or CelebAMask-HQ data "
                              "into a dataset package")
    formats = importer.add_subparsers(title="formats", metavar="FORMAT", required=True)
    folder = formats.add_parser("folder", help="an image folder + mask folder (+ attribute CSV)",
                                description="Images (png/jpg) and single-channel PNG masks of class ids "
                                "paired by file stem; an optional CSV with an id column, an optional split "
                                "column and attribute columns.")
    folder.add_argument("--images", type=Path, required=True)
    folder.add_argument("--masks", type=Path, required=True)
    folder.add_argument("--attributes", type=Path, default=None, help="CSV: id[, split], attribute columns")
    folder.add_argument("--attributes-spec", type=Path, default=None,
                        help="YAML declaring the attributes (as in dataset.yaml); inferred when absent")
    folder.add_argument("--classes", type=Path, default=None, help="YAML mapping class id -> name")
    coco = formats.add_parser("coco", help="COCO instance annotations -> person/background",
                              description="Person instances (polygons or RLE) become the person class; crowd "
                              "regions become ignore_index 255.")
    coco.add_argument("--annotations", type=Path, required=True, help="instances_*.json")
    coco.add_argument("--images", type=Path, required=True, help="folder of the images")
    coco.add_argument("--split", choices=("train", "val", "test"), default=None,
                      help="put every image in this split (default: seeded random split)")
    penn = formats.add_parser("pennfudan", help="PennFudanPed PNGImages/ + PedMasks/ -> person/background")
    penn.add_argument("--root", type=Path, required=True, help="the PennFudanPed folder")
    celeba = formats.add_parser("celebamask", help="CelebAMask-HQ part masks -> the 11 face classes")
    celeba.add_argument("--root", type=Path, required=True, help="the CelebAMask-HQ folder")
    for parser in (folder, coco, penn, celeba):
        parser.add_argument("--out", type=Path, required=True, help="package folder to write")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing package at --out")
        parser.set_defaults(handler=run_import, format=parser.prog.split()[-1])


def run_check(args: argparse.Namespace) -> int:
    from segaudit.models.data.package import load_package

    package = load_package(args.package, verify=True, progress=True)
    summary = package.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{summary['name']} {summary['version']}: {summary['images']} images, all files valid")
    splits = summary["splits"]
    print(format_table(["split", "images"], [[s, n] for s, n in splits.items()]))
    derived = {n for n, a in {**package.spec.attributes, **package.spec.person_attributes}.items()
               if a.source == "derived"}
    _print_attributes(summary["attributes"], splits, derived)
    persons = summary.get("persons")
    if persons is not None:
        count = "no persons.csv yet (derive writes one)" if persons["count"] is None else f"{persons['count']}"
        print(f"\npeople (instance masks): {count}")
        _print_attributes(persons["attributes"], splits, derived, "person ")
    from segaudit.models.data.derive import evidence_summary

    for unit, counts in (evidence_summary(package.root) or {}).items():
        why = "; ".join(f"{v['n']} {v['why']}" for v in counts["unknown"].values()) or "none unknown"
        print(f"derived skin tone per {unit}: {counts['known']} of {counts['total']} known ({why})")
    return 0


def _print_attributes(attributes: dict, splits: dict, derived: set[str], prefix: str = "") -> None:
    """Each attribute's counts (or range) as a table, derived ones marked as such."""
    for name, info in attributes.items():
        mark = ", derived from the pixels" if name in derived else ""
        print(f"\n{prefix}{name} ({info['kind']}{mark})")
        if info["kind"] == "continuous":
            print(format_table(["known", "unknown", f"min {info['unit']}", "median", "max"],
                               [[info["known"], info["unknown"], info["min"], info["median"], info["max"]]]))
        else:
            rows = [[value, *counts.values(), sum(counts.values())] for value, counts in info["counts"].items()]
            print(format_table(["value", *splits, "all"], rows))


def run_synth(args: argparse.Namespace) -> int:
    from segaudit.models.data.synth import SKEWED_TRAIN, SKEWED_TRAIN_AND_TEST, synthesize

    if args.crowd:
        return _run_crowd(args)
    if args.skew_test and not args.skew_train:
        raise InputError("--skew-test draws the test split with the training skew, so it needs --skew-train",
                         field="--skew-test")
    preset = SKEWED_TRAIN_AND_TEST if args.skew_test else SKEWED_TRAIN
    weights = preset if args.skew_train else _load_weights(args.weights) if args.weights else None
    out = synthesize(args.out, n=args.n, seed=args.seed, size=args.size, label_set=args.labels,
                     split_fractions=args.split, group_weights=weights, workers=args.workers,
                     overwrite=args.overwrite, progress=True)
    print(f"wrote {args.n} synthetic people to {out}")
    return 0


def _run_crowd(args: argparse.Namespace) -> int:
    """`synth --crowd`: the multi-person package, which has one label set and no group weights."""
    from segaudit.models.data.synth.crowd import synthesize_crowd

    refused = [flag for flag, given in (("--labels fashion", args.labels == "fashion"),
                                        ("--skew-train", args.skew_train), ("--skew-test", args.skew_test),
                                        ("--weights", args.weights is not None))
               if given]
    if refused:
        raise InputError(f"--crowd cannot be combined with {', '.join(refused)}: crowd scenes are labelled "
                         "person/background with instances, and their people are not drawn from group weights",
                         field="--crowd")
    out = synthesize_crowd(args.out, n=args.n, seed=args.seed, size=args.size, split_fractions=args.split,
                           workers=args.workers, overwrite=args.overwrite, progress=True)
    print(f"wrote {args.n} synthetic crowd scenes to {out}")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from segaudit.models.data.preview import contact_sheet

    out = contact_sheet(args.package, args.out, n=args.n, split=args.split, seed=args.seed,
                        overlay=not args.no_overlay)
    print(f"wrote {out}")
    return 0


def run_derive(args: argparse.Namespace) -> int:
    from segaudit.models.data.derive import derive_attributes, evidence_summary

    if args.validate:  # a reference that cannot serve is refused before anything is derived
        from segaudit.models.data.derive_validation import check_reference
        from segaudit.models.data.spec import SPEC_FILE, load_spec

        check_reference(load_spec(args.package / SPEC_FILE), args.validate, args.package)
    out = derive_attributes(args.package, out=args.out, progress=True, white_balance=args.white_balance)
    print(f"derived attributes written to {out}")
    for unit, counts in (evidence_summary(out) or {}).items():
        why = "; ".join(f"{v['n']} {v['why']}" for v in counts["unknown"].values()) or "none unknown"
        print(f"  skin tone per {unit}: {counts['known']} of {counts['total']} known ({why})")
    if args.validate:
        from segaudit.models.data.derive_validation import validate_derived

        result = validate_derived(out, args.validate)
        if args.json:
            print(json.dumps(result.to_dict(), indent=2))
        else:
            print(result.summary())
            print(_confusion_text(result.confusion, result.derived))
    return 0


def _confusion_text(confusion: dict[str, dict[str, int]], derived: str) -> str:
    """The confusion matrix as aligned text: annotated values as rows, derived categories as columns."""
    columns = list(next(iter(confusion.values()), {}))
    width = max([len(c) for c in columns] + [3])
    first = max([len(r) for r in confusion] + [len("annotated")])
    lines = [f"{'annotated':<{first}}  " + "  ".join(f"{c:>{width}}" for c in columns) + f"   <- {derived}"]
    lines += [f"{row:<{first}}  " + "  ".join(f"{n:>{width}}" for n in cells.values())
              for row, cells in confusion.items()]
    return "\n".join(lines)


def run_import(args: argparse.Namespace) -> int:
    from segaudit.models.data import importers

    if args.format == "folder":
        classes = _load_mapping(args.classes) if args.classes else None
        out = importers.import_folder(args.images, args.masks, args.out, attributes_csv=args.attributes,
                                      attributes_spec=args.attributes_spec, classes=classes,
                                      overwrite=args.overwrite)
    elif args.format == "coco":
        out = importers.import_coco(args.annotations, args.images, args.out, split=args.split,
                                    overwrite=args.overwrite)
    elif args.format == "pennfudan":
        out = importers.import_pennfudan(args.root, args.out, overwrite=args.overwrite)
    else:
        out = importers.import_celebamask(args.root, args.out, overwrite=args.overwrite)
    print(f"wrote {out}; check it with: segaudit data check {out}")
    return 0


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.7,0.1,0.2, got {text!r}") from None
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise argparse.ArgumentTypeError(f"expected three non-negative fractions summing to 1, got {text!r}")
    return values  # type: ignore[return-value]


def _load_mapping(path: Path) -> dict:
    from segaudit.core.reading import load_yaml

    data = load_yaml(path, what="YAML file of group weights")
    if not isinstance(data, dict):
        raise InputError("expected a mapping", path=path)
    return data


def _load_weights(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    data = _load_mapping(path)
    for split, by_attribute in data.items():
        if not isinstance(by_attribute, dict) or not all(
            isinstance(w, dict) and all(isinstance(x, int | float) and x >= 0 for x in w.values())
            for w in by_attribute.values()
        ):
            raise InputError("expected {split: {attribute: {value: non-negative weight}}}", path=path,
                             field=str(split))
    return data
