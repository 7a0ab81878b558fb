"""The generated model-card docs: one static MkDocs site from one or more audit folders.

    build_site([Path("reports/alisnet"), Path("reports/sinet")], Path("site"))

Each audit folder (what `segaudit audit --out` writes: audit.json, model_card.md, dataset_card.md, report.html,
figures/) becomes a section of the site: an overview page with the verdicts and links, the model card, the dataset
card, the HTML report and audit.json as they are. The home page lists every model with its fairness verdict,
privacy risk and mIoU. MkDocs builds it in strict mode (a broken link or a missing page is an error, as the
documented template's own documentation builds), with `use_directory_urls: false` so the site also works opened
from disk; nothing is loaded from the network (no highlight.js from a CDN) and there is no search index (its web
worker cannot run from disk; a handful of pages is navigated by the menu). The site is written to a staging
folder and moved into place when complete.

Section folders are slugs of the model name with a hash of the audit folder: a model's name never becomes a path
as it is, and two models of one name do not collide. Text from the audits is escaped before it enters Markdown.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from segaudit.core.atomic import staged_folder
from segaudit.core.audit_file import load_audit
from segaudit.core.errors import InputError
from segaudit.core.safe_text import md_text

log = logging.getLogger(__name__)
AUDIT_FILE = "audit.json"
PAGES = {"model_card": "model_card.md", "dataset_card": "dataset_card.md"}
STATIC = {"report": "report.html"}
ASSET_FOLDERS = ("figures",)
INSTALL = "pip install 'segaudit[docs]'  (mkdocs==1.6.1)"
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class SiteModel:
    """One audited model in the site: where its files are and what its index row says."""

    folder: Path
    slug: str
    name: str
    version: str
    fairness: str
    privacy: str
    miou: float | None
    pages: dict[str, str]
    static: dict[str, str]


def _plain(value: str) -> str:
    """Text for MkDocs' navigation and site name, which its theme inserts into HTML as it is: one line, escaped."""
    return html.escape(" ".join(str(value).split()))


def slug(name: str, folder: Path) -> str:
    """A folder name for a model's section: lower-case letters, digits and '-', plus a hash of its audit folder."""
    base = _SLUG.sub("-", name.lower()).strip("-")[:40] or "model"
    return f"{base}-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]}"


def read_model(folder: Path) -> SiteModel:
    """An audit folder as a site section; InputError when it is not one."""
    if not folder.is_dir():
        raise InputError("not a folder: give the audit folders written by `segaudit audit --out`", path=folder)
    audit = load_audit(folder / AUDIT_FILE)
    outputs = audit.get("outputs", {})
    pages = {key: outputs.get(key, default) for key, default in PAGES.items()}
    static = {key: outputs.get(key, default) for key, default in STATIC.items()}
    present_pages = {k: v for k, v in pages.items() if (folder / v).is_file()}
    if "model_card" not in present_pages:
        raise InputError(f"no model card ({pages['model_card']}) beside audit.json", path=folder)
    model = audit["model"]
    performance = audit.get("performance") or {}
    return SiteModel(folder=folder, slug=slug(str(model["name"]), folder), name=str(model["name"]),
                     version=str(model.get("version", "")), fairness=str(audit["fairness"]["verdict"]),
                     privacy=str((audit.get("privacy") or {}).get("risk_level", "not audited")),
                     miou=performance.get("miou"), pages=present_pages,
                     static={k: v for k, v in static.items() if (folder / v).is_file()})


def build_site(audits: list[Path], out: Path, title: str = "Model cards", strict: bool = True) -> Path:
    """Build the static site of `audits` into `out` (replaced only when the build succeeds); returns `out`."""
    try:
        from mkdocs.commands.build import build
        from mkdocs.config import load_config
        from mkdocs.exceptions import Abort, ConfigurationError
    except ImportError:
        raise InputError(f"`segaudit docs build` needs MkDocs: {INSTALL}", field="mkdocs") from None
    if not audits:
        raise InputError("give at least one audit folder", field="AUDIT")
    models = [read_model(Path(folder)) for folder in audits]
    with tempfile.TemporaryDirectory(prefix="segaudit-docs-") as scratch:
        project = Path(scratch)
        _write_project(project, models, title, strict)
        warnings = _Collect()
        mkdocs_log = logging.getLogger("mkdocs")
        mkdocs_log.addHandler(warnings)
        level, mkdocs_log.level = mkdocs_log.level, logging.WARNING  # its progress lines name the staging folder
        try:
            with staged_folder(Path(out)) as staging:
                config = load_config(config_file=str(project / "mkdocs.yml"), site_dir=str(staging), strict=strict)
                build(config)
        except (Abort, ConfigurationError, SystemExit) as exc:
            shown = "; ".join(warnings.messages[:10]) or str(exc)
            raise InputError(f"MkDocs refused the site in strict mode: {shown}", path=Path(out)) from None
        finally:
            mkdocs_log.removeHandler(warnings)
            mkdocs_log.setLevel(level)
    return Path(out)


class _Collect(logging.Handler):
    """Keeps MkDocs' warnings, to say what a strict build refused."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _write_project(project: Path, models: list[SiteModel], title: str, strict: bool) -> None:
    """mkdocs.yml and docs/: the home page, and per model its overview, cards, report and assets."""
    docs = project / "docs"
    docs.mkdir()
    nav: list[Any] = [{"Home": "index.md"}]
    for model in models:
        section = docs / model.slug
        section.mkdir()
        for name in ASSET_FOLDERS:
            if (model.folder / name).is_dir():
                shutil.copytree(model.folder / name, section / name)
        for key, file in {**model.pages, **model.static}.items():
            shutil.copyfile(model.folder / file, section / f"{key}{Path(file).suffix}")
        shutil.copyfile(model.folder / AUDIT_FILE, section / AUDIT_FILE)
        (section / "index.md").write_text(_overview(model), encoding="utf-8")
        entries = [{"Overview": f"{model.slug}/index.md"}]
        entries += [{label: f"{model.slug}/{key}.md"} for key, label in
                    (("model_card", "Model card"), ("dataset_card", "Dataset card")) if key in model.pages]
        nav.append({_plain(f"{model.name} {model.version}"): entries})
    (docs / "index.md").write_text(_home(models, title), encoding="utf-8")
    config = {"site_name": _plain(title), "docs_dir": "docs", "use_directory_urls": False, "strict": strict,
              "theme": {"name": "readthedocs", "highlightjs": False}, "plugins": [], "nav": nav,
              "markdown_extensions": ["tables", "toc", "attr_list"],
              "validation": {"links": {"not_found": "warn", "absolute_links": "warn", "unrecognized_links": "warn"},
                             "nav": {"omitted_files": "info", "not_found": "warn"}}}
    (project / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _home(models: list[SiteModel], title: str) -> str:
    rows = [f"| [{md_text(m.name)}]({m.slug}/index.md) | {md_text(m.version)} | "
            f"{md_text(m.fairness)} | {md_text(m.privacy)} | "
            f"{'-' if m.miou is None else f'{m.miou:.4f}'} |" for m in models]
    return "\n".join([
        f"# {md_text(title)}", "",
        "Every model below was audited by segaudit; each links to its overview, model card, dataset card and "
        "HTML report. The verdicts are those of the audit, not of this page.", "",
        "| model | version | fairness verdict | membership-inference risk | mIoU |",
        "|---|---|---|---|---|", *rows, ""])


def _overview(model: SiteModel) -> str:
    links = ["- [Model card](model_card.md)"]
    if "dataset_card" in model.pages:
        links.append("- [Dataset card](dataset_card.md)")
    if "report" in model.static:
        links.append("- [HTML audit report](report.html)")
    links.append(f"- [audit.json]({AUDIT_FILE}) (the machine-readable audit)")
    return "\n".join([
        f"# {md_text(model.name)} {md_text(model.version)}".rstrip(), "",
        "| fairness verdict | membership-inference risk | mIoU |", "|---|---|---|",
        f"| {md_text(model.fairness)} | {md_text(model.privacy)} | "
        f"{'-' if model.miou is None else f'{model.miou:.4f}'} |", "", *links, ""])
