"""report.html: self-contained, escaped, and loaded in a real headless Chromium without console errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segaudit.app.cli.main import main
from segaudit.cards.browser import visit
from segaudit.cards.report import render_report
from segaudit.core.audit_file import SCHEMA_VERSION
from segaudit.core.errors import InputError

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "reports" / "alisnet"
EVIL = "<script>alert('x')</script>"


@pytest.fixture
def evil_audit(tmp_path: Path) -> Path:
    """The reference audit with user-supplied strings that are HTML: a group label, an attribute name, the
    threat model and the command."""
    folder = tmp_path / "audit"
    shutil.copytree(REFERENCE, folder, ignore=shutil.ignore_patterns("report.html"))
    audit = json.loads((folder / "audit.json").read_text())
    audit["fairness"]["attributes"]["skin_tone"]["groups"][0]["group"] = EVIL
    audit["fairness"]["attributes"]["<img src=x onerror=alert(1)>"] = audit["fairness"]["attributes"].pop("lighting")
    audit["privacy"]["threat_model"] = "</p><script>console.error('injected')</script>"
    audit["privacy"]["balance"]["before"][0]["factor"] = EVIL  # attribute names come from dataset.yaml
    audit["provenance"]["command"] = "segaudit audit --out '<b>bold</b>'"
    (folder / "audit.json").write_text(json.dumps(audit))
    return folder


def test_report_is_self_contained_with_every_plot_embedded():
    html = render_report(REFERENCE)
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    audit = json.loads((REFERENCE / "audit.json").read_text())
    fairness, privacy = audit["fairness"], audit["privacy"]
    forests = len(fairness["attributes"]) + len(fairness["intersections"])
    heatmaps, distributions = len(fairness["intersections"]), len(fairness["attributes"])
    exposure, roc = len(privacy["by_group"]), 1
    assert len(sources) == forests + heatmaps + distributions + exposure + roc
    assert "<script" not in html and "http://" not in html
    assert not re.search(r'<link[^>]+href="(?!data:)', html)
    # the privacy section shows the game's balance, the rating's bounds and leave-one-shadow-out
    for heading in ("The rating's evidence", "Who is in the game", "Leave one shadow out"):
        assert heading in html, heading
    # verdicts come first
    assert html.index("Summary of verdicts") < html.index('id="fairness"') < html.index('id="privacy"') \
        < html.index('id="performance"') < html.index('id="provenance"')


def test_every_user_supplied_string_is_escaped(evil_audit):
    html = render_report(evil_audit)
    assert "<script" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_report_loads_in_headless_chromium_without_console_errors(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_report(REFERENCE), encoding="utf-8")
    screenshot = tmp_path / "report.png"
    visit_ = visit(page, screenshot=screenshot, full_page=True)
    assert visit_.console == [] and visit_.page_errors == [] and visit_.failed_requests == []
    assert visit_.scripts == 0
    assert "Summary of verdicts" in visit_.text and "Membership-inference risk".upper() in visit_.text.upper()
    with Image.open(screenshot) as image:
        assert image.width == 1280 and image.height > 3000  # the whole page, plots included
        assert len(np.unique(np.asarray(image.convert("L").resize((64, 256))))) > 20  # not a blank page


def test_escaped_strings_show_as_text_in_chromium(evil_audit, tmp_path):
    page = tmp_path / "evil.html"
    page.write_text(render_report(evil_audit), encoding="utf-8")
    result = visit(page, screenshot=tmp_path / "evil.png")
    assert result.console == [] and result.page_errors == []  # the injected console.error never ran
    assert result.scripts == 0
    assert EVIL in result.text
    assert "</p><script>console.error('injected')</script>" in result.text


def test_report_without_privacy_says_not_assessed(tmp_path):
    folder = tmp_path / "audit"
    shutil.copytree(REFERENCE / "fairness", folder / "fairness")
    audit = json.loads((REFERENCE / "audit.json").read_text())
    audit["privacy"] = audit["quantization"] = None
    (folder / "audit.json").write_text(json.dumps(audit))
    html = render_report(folder)
    assert "the risk is not assessed" in html and "No quantization report" in html


def test_cli_report_and_bad_input(tmp_path, capsys):
    out = tmp_path / "r" / "report.html"
    assert main(["card", "report", "--audit", str(REFERENCE / "audit.json"), "--out", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "audit.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION, "model": {}}))
    assert main(["card", "report", "--audit", str(broken), "--out", str(tmp_path / "x.html")]) == 2
    assert "field 'dataset'" in capsys.readouterr().err
    with pytest.raises(InputError, match="schema_version"):
        (broken / "audit.json").write_text(json.dumps({"schema_version": 7}))
        render_report(broken)


def test_the_browser_check_does_see_console_errors(tmp_path):
    page = tmp_path / "noisy.html"
    page.write_text("<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head>"
                    "<body><script>console.error('boom'); undefinedCall();</script></body></html>")
    result = visit(page)
    assert result.console == [("error", "boom")] and "undefinedCall" in result.page_errors[0]
    assert result.scripts == 1


def test_exposure_plot_takes_one_attack_when_by_group_has_several(tmp_path):
    folder = tmp_path / "audit"
    shutil.copytree(REFERENCE / "fairness", folder / "fairness")
    audit = json.loads((REFERENCE / "audit.json").read_text())
    rows = audit["privacy"]["by_group"]["age_group"]
    audit["privacy"]["by_group"] = {"age_group": [*rows, *({**r, "attack": "rmia"} for r in rows),
                                                  {"group": "tiny", "n": 4, "attack": "lira-online", "auc": None,
                                                   "auc_ci": [None, None], "insufficient": True}]}
    (folder / "audit.json").write_text(json.dumps(audit))
    html = render_report(folder)
    assert "plot not found" not in html.split('id="privacy"')[1].split("Exposure per group")[1]
    assert html.count("<tr><td>tiny</td>") == 1 and "n/a n/a" in html
