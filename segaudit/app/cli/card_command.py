"""`segaudit card`: model cards, dataset cards and the HTML audit report, a thin layer over `cards`."""

from __future__ import annotations

import argparse
from pathlib import Path

from segaudit.core.errors import InputError

DESCRIPTION = """\
Documents for compliance reviews, rendered from an audit's audit.json and a small YAML file of facts that
people write (owners, intended use, known applications and their AI Act risk, caveats, authors).

  render   the model card in the documented template v1.0.0 (OUT/model_card.md) and OUT/by_group.json
  dataset  the dataset card of a dataset package (OUT/dataset_card.md, OUT/figures/, OUT/dataset_summary.json)
  report   the self-contained HTML audit report (plots embedded, no scripts)
  check    list every fact that is missing, invalid or still a placeholder
  bundle   regenerate the bundled ALiSNet's committed cards and report from reports/alisnet/

Facts: see cards/alisnet.yaml (model) and cards/synthetic-people.yaml (dataset). A text that is empty, starts
with TODO, TBD or FIXME, holds TODO, TBD or FIXME anywhere, or is a single <...> is a placeholder. A version must
be quoted text ("1.10", not the YAML number 1.1), an e-mail one plain address, a link http, https, mailto or
relative (never javascript: or data:); duplicate keys are refused. Both kinds of facts may record their review:
reviewers (name, role), sign_off (name, date, decision approved | rejected | needs-changes), risk_acceptance (risk,
accepted_by, rationale) and contact (email). Cards with gaps are refused (exit 2) unless --draft, which marks
every gap visibly. Computed findings (metrics with CIs, fairness verdicts, the
membership-inference risk, sizes, latency) come from audit.json only; the two risks the template carries are
written from them. Groups of fewer than --min-group-size images are suppressed in cards (label only)."""

EPILOG = """\
examples:
  segaudit card check cards/alisnet.yaml
  segaudit card render --audit reports/alisnet/audit.json --facts cards/alisnet.yaml --out out/cards
  segaudit card render --audit OUT/audit.json --facts my-model.yaml --out OUT --draft --templates company/
  segaudit card dataset --data data/people4k --facts cards/synthetic-people.yaml --out out/dataset
  segaudit card report --audit reports/alisnet --out report.html
  segaudit card bundle"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("card", help="model cards, dataset cards and the HTML audit report",
                                 description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(title="card commands", metavar="COMMAND", required=True)

    render = sub.add_parser("render", help="the model card and by_group.json",
                            description="Render OUT/model_card.md (documented template v1.0.0, Hugging Face "
                            "front matter) and OUT/by_group.json (every group's results, small groups suppressed).")
    render.add_argument("--audit", type=Path, required=True, help="audit.json (or the audit folder holding it)")
    render.add_argument("--facts", type=Path, required=True, help="YAML of human-written facts (cards/alisnet.yaml)")
    render.add_argument("--out", type=Path, required=True, help="output folder")
    _common(render)
    render.set_defaults(handler=run_render)

    dataset = sub.add_parser("dataset", help="the dataset card of a dataset package",
                             description="Render OUT/dataset_card.md from a package's dataset.yaml and statistics "
                             "computed from its manifest (or from a saved dataset_summary.json), with one bar chart "
                             "per attribute under OUT/figures/ and the statistics as OUT/dataset_summary.json.")
    source = dataset.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="dataset package folder")
    source.add_argument("--summary", type=Path, help="a dataset_summary.json written before")
    dataset.add_argument("--facts", type=Path,
                         help="YAML of human-written dataset facts (cards/synthetic-people.yaml); without it only "
                         "--draft renders")
    dataset.add_argument("--out", type=Path, required=True, help="output folder")
    _common(dataset)
    dataset.set_defaults(handler=run_dataset)

    report = sub.add_parser("report", help="the self-contained HTML audit report",
                            description="Render one HTML page from an audit folder: verdicts first, then fairness "
                            "(forest plots, tables, intersections), privacy (ROC, attacks, exposure per group), "
                            "performance and quantization, provenance. Plots are embedded; every string is escaped.")
    report.add_argument("--audit", type=Path, required=True, help="audit folder (or its audit.json)")
    report.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    report.add_argument("--templates", type=Path, help="folder with your own report.html.j2")
    report.add_argument("--publish", action="store_true",
                        help="the version for outside the team: groups under --min-group-size images, and those "
                             "needed to keep them from being recovered by subtraction, keep only their label; plots "
                             "and reasons that would show them are withheld")
    report.add_argument("--min-group-size", type=int, default=30,
                        help="smallest group published with --publish (default 30)")
    report.set_defaults(handler=run_report)

    check = sub.add_parser("check", help="list missing, invalid or placeholder facts",
                           description="List every field of a facts file that is missing, invalid (a version "
                           "that is not text, a malformed e-mail address, a javascript: or data: link, an unknown "
                           "field) or still a placeholder (TODO anywhere in a text). Exit 0 when complete, 2 when "
                           "anything is listed or the file is not readable YAML (duplicate keys included).")
    check.add_argument("facts", type=Path, help="the facts YAML")
    check.add_argument("--dataset", action="store_true", help="check dataset-card facts (default: model-card facts)")
    check.set_defaults(handler=run_check)

    bundle = sub.add_parser("bundle", help="regenerate the bundled ALiSNet's cards and report",
                            description="Render cards/alisnet.md, cards/alisnet.by_group.json, "
                            "cards/synthetic-people.md (+ cards/figures/) and reports/alisnet/report.html from the "
                            "committed reference audit in reports/alisnet/, and screenshot the report in headless "
                            "Chromium into reports/figures/report-screenshot.png.")
    bundle.add_argument("--no-screenshot", action="store_true", help="skip the Chromium screenshot")
    bundle.add_argument("--refresh-fairness", action="store_true",
                        help="first re-analyse the reference audit's fairness with the current rules, from its "
                        "committed per-image table (the privacy results and predictions stay as they are)")
    bundle.set_defaults(handler=run_bundle)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--draft", action="store_true", help="render despite missing facts, marking each gap")
    parser.add_argument("--templates", type=Path, help="folder whose templates replace the package's (same names)")
    parser.add_argument("--min-group-size", type=_positive, default=30,
                        help="groups with fewer images are suppressed in the card (default 30)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_render(args: argparse.Namespace) -> int:
    from segaudit.cards.outputs import write_model_card

    written = write_model_card(args.audit, args.facts, args.out / "model_card.md", draft=args.draft,
                               templates=args.templates, min_group_size=args.min_group_size)
    print("wrote " + ", ".join(str(p) for p in written) + (" (DRAFT)" if args.draft else ""))
    return 0


def run_dataset(args: argparse.Namespace) -> int:
    import json

    from segaudit.cards.dataset_card import dataset_summary
    from segaudit.cards.outputs import write_dataset_card
    from segaudit.core.atomic import json_text, write_atomic
    from segaudit.models.data.package import load_package

    if args.facts is None and not args.draft:
        raise InputError("no --facts: a dataset card needs its human-written facts (cards/synthetic-people.yaml "
                         "shows them); add --draft to render one with every gap marked", field="--facts")
    if args.data is not None:
        summary = dataset_summary(load_package(args.data))
    else:
        try:
            summary = json.loads(args.summary.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"not a readable dataset summary: {exc}", path=args.summary) from None
    written = [write_atomic(args.out / "dataset_summary.json", json_text(summary))]
    written += write_dataset_card(summary, args.facts, args.out / "dataset_card.md", draft=args.draft,
                                  templates=args.templates, min_group_size=args.min_group_size)
    print(f"wrote {args.out / 'dataset_card.md'} and {len(written) - 1} other file(s)"
          + (" (DRAFT)" if args.draft else ""))
    return 0


def run_report(args: argparse.Namespace) -> int:
    from segaudit.cards.outputs import write_report

    if args.min_group_size < 1:
        raise InputError("must be at least 1", field="--min-group-size")
    written = write_report(args.audit, args.out, templates=args.templates, publish=args.publish,
                           min_group_size=args.min_group_size)
    print(f"wrote {written}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from segaudit.cards.facts import check_facts, load_facts
    from segaudit.cards.schemas import DATASET_FACTS, MODEL_FACTS

    gaps = check_facts(load_facts(args.facts), DATASET_FACTS if args.dataset else MODEL_FACTS)
    if not gaps:
        print(f"{args.facts}: complete")
        return 0
    print(f"{args.facts}: {len(gaps)} field(s) missing, invalid or placeholders:")
    for gap in gaps:
        print(f"  {args.facts}: {gap}")
    return 2


def run_bundle(args: argparse.Namespace) -> int:
    from segaudit.cards.bundle import Bundle, write_bundle

    if args.refresh_fairness:
        from segaudit.app.reference_fairness import refresh_fairness

        print(f"re-analysed {refresh_fairness(Bundle().path(Bundle().audit_dir))}")
    for path in write_bundle(screenshot=not args.no_screenshot):
        print(f"wrote {path}")
    return 0
