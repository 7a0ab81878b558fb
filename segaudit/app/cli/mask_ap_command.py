"""`segaudit mask-ap`: per-group instance mask AP of a Mask R-CNN, a thin layer over audit.instance_ap."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from segaudit.app.cli.table import format_table

BOOTSTRAP = 1000
"""audit.instance_ap.DEFAULT_BOOTSTRAP, not imported so that `segaudit --help` does not load pandas (a test checks
that the two agree)."""

DESCRIPTION = """\
Does the Mask R-CNN find some people worse than others? COCO mask AP per group of people.

The package must keep its people (dataset.yaml schema_version 2, instances: true). The people are grouped by
--by: a person attribute (persons.csv) or an image attribute (manifest) that every person of the image takes;
continuous attributes are binned (--bins). For each group, COCOeval (iouType segm) runs over every image of the
split with that group's people as the positives and everyone else marked ignore, as COCO's area ranges do: a
detection matched to another group's person counts neither way, a detection matched to nobody is a false
positive in every group. Regions at ignore_index (e.g. COCO crowds) are crowd regions. The interval is a
percentile bootstrap of AP over images (seeded; the same resamples for every group).

Prints n persons, n images, AP, AP50, AP75 and the interval per group (the first row, '(all)', counts every
person). Exit code 0, 2 on bad input (no instances, unknown attribute, not a Mask R-CNN)."""

EPILOG = """\
examples:
  segaudit data derive data/pennfudan    # each pedestrian's own derived skin tone, in persons.csv
  segaudit mask-ap --model runs/maskrcnn --data data/pennfudan --by ita_skin_tone
  segaudit mask-ap --model runs/maskrcnn/best --data data/coco-people --by skin_tone --out mask_ap.csv --json"""


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("mask-ap", help="per-group instance mask AP of a Mask R-CNN (COCOeval)",
                            description=DESCRIPTION, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="Mask R-CNN run folder (uses best/) or checkpoint folder")
    p.add_argument("--data", type=Path, required=True, help="dataset package folder with instance masks")
    p.add_argument("--by", required=True, metavar="ATTR", help="person or image attribute that defines the groups")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default="test",
                   help="which images to evaluate (default test)")
    p.add_argument("--bins", type=_bins, default=4, metavar="C1,C2,...|qK",
                   help="bins of a continuous attribute: cut points, or K quantile bins (default q4)")
    p.add_argument("--bootstrap", type=int, default=BOOTSTRAP,
                   help=f"bootstrap resamples of images for the AP interval, 0 for none (default {BOOTSTRAP})")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--batch-size", type=int, default=4, help="inference batch size (4)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--out", type=Path, help="also write the table to this CSV file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run_mask_ap)


def run_mask_ap(args: argparse.Namespace) -> int:
    from segaudit.audit.instance_ap import mask_ap_for_model
    from segaudit.core.atomic import write_atomic
    from segaudit.core.checks import integer
    from segaudit.models.data import load_package

    integer(args.bootstrap, "--bootstrap", minimum=0)
    integer(args.batch_size, "--batch-size", minimum=1)
    package = load_package(args.data)
    frame = mask_ap_for_model(args.model, package, args.by, split=args.split, bins=args.bins,
                              n_boot=args.bootstrap, seed=args.seed, batch_size=args.batch_size,
                              device=args.device, progress=not args.json)
    if args.out is not None:
        write_atomic(args.out, frame.to_csv(index=False))
    if args.json:
        records = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                   for r in frame.to_dict("records")]
        print(json.dumps({"model": str(args.model), "data": str(args.data), "split": args.split,
                          "attribute": args.by, "level": frame.attrs["level"], "images": frame.attrs["images"],
                          "bootstrap": args.bootstrap, "confidence": frame.attrs["confidence"], "seed": args.seed,
                          "groups": records}, indent=2))
        return 0
    confidence = 100 * frame.attrs["confidence"]
    print(f"mask AP by {args.by} ({frame.attrs['level']} attribute), split {args.split}, "
          f"{frame.attrs['images']} images; {confidence:g}% bootstrap interval over images ({args.bootstrap} "
          f"resamples, seed {args.seed})")
    rows = [[r["group"], r["n_persons"], r["n_images"], r["AP"], r["AP50"], r["AP75"],
             "-" if math.isnan(r["AP_ci_low"]) else f"{r['AP_ci_low']:.3f} to {r['AP_ci_high']:.3f}"]
            for r in frame.to_dict("records")]
    print(format_table(["group", "persons", "images", "AP", "AP50", "AP75", "AP interval"], rows))
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


def _bins(text: str) -> int | list[float]:
    text = text.strip()
    try:
        if text.lower().startswith("q"):
            return int(text[1:])
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cut points like 150,170,190 or quantiles like q4, got {text!r}")\
            from None
