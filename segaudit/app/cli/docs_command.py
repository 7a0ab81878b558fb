"""`segaudit docs build`: the generated model-card docs site, a thin layer over app.docs_site."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Turn one or more audit folders (what `segaudit audit --out` writes) into a static documentation site built by
MkDocs in strict mode: a home page listing every model with its fairness verdict, membership-inference risk and
mIoU, and per model an overview, the model card, the dataset card, the HTML report and audit.json. The site works
opened from disk and loads nothing from the network; publish the folder as it is (GitHub Pages, any web server).
The folder given to --out is replaced only when the build succeeds."""

EPILOG = """\
examples:
  segaudit docs build reports/alisnet --out site
  segaudit docs build reports/alisnet reports/sinet --out site --title "Segmentation models"
needs MkDocs: pip install 'segaudit[docs]'"""


def register(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser("docs", help="build the generated model-card docs site (MkDocs)",
                               description="The generated model-card documentation.")
    sub = docs.add_subparsers(dest="docs_command", required=True, metavar="COMMAND")
    build = sub.add_parser("build", help="audit folders -> a static MkDocs site", description=DESCRIPTION,
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("audits", type=Path, nargs="+", metavar="AUDIT", help="audit folders (with audit.json)")
    build.add_argument("--out", type=Path, required=True, help="site folder to write (replaced when complete)")
    build.add_argument("--title", default="Model cards", help="the site's name (default 'Model cards')")
    build.set_defaults(handler=run_build)


def run_build(args: argparse.Namespace) -> int:
    from segaudit.app.docs_site import build_site

    out = build_site(args.audits, args.out, title=args.title)
    print(f"wrote {out}/index.html ({len(args.audits)} model(s)); open it in a browser or publish the folder")
    return 0
