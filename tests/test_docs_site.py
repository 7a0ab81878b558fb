"""`segaudit docs build`: a strict-mode MkDocs site of audit folders that loads in Chromium without errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from segaudit.app.cli.main import main
from segaudit.app.docs_site import slug
from segaudit.cards.browser import chromium_path, visit

REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "alisnet"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The site of two audits: the bundled reference audit and a copy of it under a hostile model name."""
    root = tmp_path_factory.mktemp("docs")
    second = root / "audits" / "other"
    shutil.copytree(REFERENCE, second)
    audit = json.loads((second / "audit.json").read_text())
    audit["model"]["name"] = "evil</a><script>alert(1)</script>\n# injected"
    (second / "audit.json").write_text(json.dumps(audit))
    out = root / "site"
    assert main(["docs", "build", str(REFERENCE), str(second), "--out", str(out), "--title", "Our models"]) == 0
    return out, [REFERENCE, second]


def test_the_site_has_a_home_page_and_every_page_of_every_audit(site) -> None:
    out, audits = site
    home = (out / "index.html").read_text()
    assert "Our models" in home
    for folder, name in zip(audits, ("alisnet", "evil</a><script>alert(1)</script>\n# injected"), strict=True):
        section = out / slug(name, folder)
        for page in ("index.html", "model_card.html", "dataset_card.html", "report.html", "audit.json"):
            assert (section / page).is_file(), page
        assert f'href="{section.name}/index.html"' in home
    assert "fail" in home and "inconclusive" in home  # the reference audit's verdicts, from audit.json
    assert "0.9162" in home


def test_hostile_model_names_render_as_text_and_never_become_paths(site) -> None:
    out, _ = site
    home = (out / "index.html").read_text()
    assert "<script>alert(1)</script>" not in home
    assert not re.search(r"<h1[^>]*>\s*injected", home)
    assert all(re.fullmatch(r"[a-z0-9-]+", p.name) for p in out.iterdir() if p.is_dir())


@pytest.mark.skipif(chromium_path() is None, reason="no system Chromium (make setup installs it)")
def test_the_site_loads_in_chromium_without_errors_or_network(site) -> None:
    out, audits = site
    for page in (out / "index.html", out / slug("alisnet", audits[0]) / "model_card.html"):
        seen = visit(page)
        assert seen.page_errors == [] and seen.failed_requests == []
        assert not [text for kind, text in seen.console if kind == "error"]
    assert "Intended and Known Usage" in visit(out / slug("alisnet", audits[0]) / "model_card.html").text


def test_bad_input_is_exit_2_and_leaves_the_old_site(site, tmp_path: Path) -> None:
    out, _ = site
    before = (out / "index.html").read_bytes()
    assert main(["docs", "build", str(tmp_path), "--out", str(out)]) == 2  # no audit.json there
    assert (out / "index.html").read_bytes() == before
    no_card = tmp_path / "no_card"
    shutil.copytree(REFERENCE, no_card)
    (no_card / "model_card.md").unlink()
    assert main(["docs", "build", str(no_card), "--out", str(tmp_path / "s")]) == 2
    assert not (tmp_path / "s").exists()
