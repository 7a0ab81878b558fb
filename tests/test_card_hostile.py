"""Cards are safe by construction: hostile names and facts (Markdown and HTML injection, javascript: links, path
traversal, invalid mathtext, very long and non-ASCII names) pass through the dataset card, the model card, the
report and by_group.json as inert text, without a crash and without a file outside the output folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from segaudit.app.cli.main import main
from segaudit.cards import dataset_summary, load_facts, render_dataset_card, render_model_card
from segaudit.cards.front_matter import parse_front_matter
from segaudit.cards.outputs import write_cards
from segaudit.core.safe_text import (
    child_path,
    md_code,
    md_inline,
    md_link,
    md_prose,
    md_text,
    plain_label,
    safe_url,
    slug,
    unsafe_links,
)
from segaudit.models.data.package import load_package
from segaudit.models.data.spec import AttributeSpec, DatasetSpec
from segaudit.models.data.writer import PackageWriter

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "reports" / "alisnet"
MODEL_FACTS = REPO / "cards" / "alisnet.yaml"
DATASET_FACTS = REPO / "cards" / "synthetic-people.yaml"

LONG = "Ünïcödé-名前-🙂 " * 40
HOSTILE_NAMES = ["x/../../../../ESCAPED", "<script>alert(1)</script>", "$\\frac{$", "line\n# heading",
                 "[x](javascript:alert(1))", LONG]
HOSTILE_VALUES = ("<script>alert(2)</script>", "$\\frac{", "v\n# heading2")
HOSTILE_TEXT = ("ok\n\n# heading\n<script>alert(1)</script> [click](javascript:alert(1)) [d](data:text/html,x) "
                "<img src=x onerror=alert(1)>\n\n---\n\n> quote\n\n1. item\n\n```\ncode\n\n[r]: javascript:alert(1)")


def heading_lines(markdown: str) -> list[str]:
    """ATX headings and setext underlines outside the front matter: the structure of a Markdown document."""
    if markdown.startswith("---\n"):
        markdown = parse_front_matter(markdown)[1]
    return [line for line in markdown.splitlines()
            if re.match(r" {0,3}#{1,6}(\s|$)", line) or re.fullmatch(r" {0,3}(=+|-{2,})\s*", line)]


def assert_inert(text: str, markdown: bool = True) -> None:
    """No raw HTML that runs or loads anything, and (in Markdown) no javascript:/data: link."""
    lowered = text.lower()
    assert "<script" not in lowered and "<img" not in lowered
    if not markdown:
        return
    assert not re.search(r"(?<!\\)\]\(\s*(javascript|data):", lowered)
    assert not re.search(r"^\s*\[[^\]]*\]:\s*javascript:", lowered, re.M)


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def write_package(out: Path, names: list[str], values: tuple[str, ...], name: str, text: str) -> Path:
    """Six tiny images with one categorical attribute per name (the first one derived), every cell a value."""
    attributes = {n: AttributeSpec(n, "categorical", i % 2 == 0, "derived" if i == 0 else "annotated",
                                   values=values, description=text) for i, n in enumerate(names)}
    spec = DatasetSpec(name=name, version="1.0.0", description=text, license="CC0-1.0", provenance=text,
                       classes={0: "background", 1: "person"}, attributes=attributes)
    rng = np.random.default_rng(0)
    with PackageWriter(out, spec) as writer:
        for i in range(6):
            image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            mask = np.zeros((32, 32), np.uint8)
            mask[8:24, 10:20] = 1
            writer.add(f"img-{i}", image, mask, ("train", "val", "test")[i % 3], {n: values[i % 3] for n in names})
    return out


@pytest.fixture
def hostile_package(tmp_path: Path) -> Path:
    return write_package(tmp_path / "packages" / "hostile", HOSTILE_NAMES, HOSTILE_VALUES,
                         "evil\n# heading\n<script>alert(1)</script>", HOSTILE_TEXT)


@pytest.fixture
def benign_package(tmp_path: Path) -> Path:
    return write_package(tmp_path / "packages" / "benign", [f"a{i}" for i in range(len(HOSTILE_NAMES))],
                         ("v0", "v1", "v2"), "benign", "A plain description.")


def relabel(value: Any, mapping: dict[str, str]) -> Any:
    """`value` (JSON) with every string and key equal to a mapping key replaced."""
    if isinstance(value, dict):
        return {mapping.get(k, k): relabel(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [relabel(v, mapping) for v in value]
    return mapping.get(value, value) if isinstance(value, str) else value


HOSTILE_LABELS = {"monk_10": "$\\frac{$", "monk_01": "<script>alert(1)</script>", "monk_02": "x\n# heading",
                  "monk_03": "$\\frac{", "child": "[x](javascript:alert(1))", "adult": LONG,
                  "lighting": "x/../../ESCAPED", "body_shape": "<img src=x onerror=alert(1)>",
                  "segaudit-synthetic-person": "evil\n# heading\n<script>alert(1)</script>"}


@pytest.fixture
def hostile_audit(tmp_path: Path) -> Path:
    """The reference audit with hostile group labels, attribute names and dataset name (plots stay as they are:
    the report finds the plots of the attributes whose names did not change)."""
    folder = tmp_path / "audit"
    shutil.copytree(REFERENCE, folder, ignore=shutil.ignore_patterns("report.html", "*.md", "by_group.json"))
    audit = relabel(json.loads((folder / "audit.json").read_text()), HOSTILE_LABELS)
    (folder / "audit.json").write_text(json.dumps(audit))
    return folder


def hostile_model_facts() -> dict[str, Any]:
    facts = load_facts(MODEL_FACTS)
    facts["model"]["name"] = "X\n# heading <script>alert(1)</script>"
    facts["model"]["description"] = HOSTILE_TEXT
    facts["model"]["type"] = "CNN\n## injected"
    facts["links"][0]["url"] = "javascript:alert(1)"
    facts["links"][1]["url"] = "jav&#97;script:alert(1)"
    facts["developers"][0]["email"] = "a@b.co\n# heading"
    facts["known_applications"][0]["application"] = "[x](javascript:alert(1))|"
    facts["known_applications"][0]["url"] = "data:text/html,<script>alert(1)</script>"
    facts["risks"]["other"][0]["title"] = "T\n# heading"
    facts["caveats"] = HOSTILE_TEXT
    facts["reviewers"] = [{"name": "<script>r</script>", "role": "\n# role"}]
    facts["sign_off"] = {"name": "n\n# x", "date": "2026-01-01", "decision": "approved", "note": HOSTILE_TEXT}
    facts["contact"] = {"email": "javascript:alert(1)", "url": "javascript:alert(1)"}
    return facts


# ----------------------------------------------------------------------------------------------- the helpers


def test_md_text_is_inert_and_keeps_plain_names():
    assert md_text("skin_tone") == "skin_tone" and md_text("monk_01") == "monk_01"
    assert md_text("line\n# heading") == "line # heading"
    assert md_text("# heading") == "\\# heading" and md_text("- item") == "\\- item" and md_text("-5") == "-5"
    assert md_text("<script>") == "&lt;script&gt;" and md_text("a|b") == "a\\|b"
    assert md_text("[x](javascript:alert(1))") == "[x\\](javascript:alert(1))"
    assert md_text("*a* _b_ `c` ~~d~~ $e$") == "\\*a\\* \\_b\\_ \\`c\\` \\~\\~d\\~\\~ \\$e\\$"
    assert md_text("a\u202eb\x00c") == "abc"  # bidi override and control characters dropped


def test_md_prose_keeps_inline_markdown_but_no_blocks_html_or_unsafe_links():
    assert md_prose("Uses **bold**, `code`, [a link](https://x.org) & <br> as written.") == \
        "Uses **bold**, `code`, [a link](https://x.org) & <br> as written."
    assert md_prose("**A**ccurate\n\nsecond") == "**A**ccurate\n\nsecond"
    text = md_prose(HOSTILE_TEXT)
    assert_inert(text)
    assert heading_lines(text) == []
    for line in text.split("\n\n"):
        assert not re.match(r"(>|\d+\.|```|---|\[r\]:)", line), line
    assert "[click]\\(javascript:alert(1))" in text and "&lt;img src=x" in text
    assert md_inline("a\n\n# b") == "a # b"


def test_links_only_http_https_mailto_or_relative():
    assert safe_url("https://x.org/a") and safe_url("mailto:a@b.co") and safe_url("docs/page.md")
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:x", "jav&#97;script:x", "data:x",
                "vbscript:x", "file:///etc/passwd", "<javascript:x>"):
        assert safe_url(bad) is None, bad
    assert md_link("a|b", "javascript:alert(1)") == "a\\|b"
    assert md_link("t", "https://x.org/a b|c(d)") == "[t](https://x.org/a%20b%7Cc%28d%29)"
    assert unsafe_links("see [x](javascript:alert(1)) and <data:text/html,x> and [ok](https://x.org)") == \
        ["javascript:alert(1)", "data:text/html,x"]
    assert md_code("model.pte") == "`model.pte`" and md_code("a`b<c>") == "a\\`b&lt;c&gt;"


def test_slug_stays_in_its_folder_and_never_collides(tmp_path):
    assert slug("skin_tone") == "skin_tone" and slug("age-group") == "age-group"
    names = ["x/../../ESCAPED", "..", ".hidden", "a b", "a_b", "A_B", "Ünïcödé", "🙂", "", LONG, "con", "a/b"]
    slugs = [slug(n) for n in names]
    assert len(set(slugs)) == len(slugs)
    for s in slugs:
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", s) and len(s) <= 60, s
        assert child_path(tmp_path, f"figures/card-{s}.png").parent == tmp_path / "figures"
    with pytest.raises(ValueError):
        child_path(tmp_path, "figures/../../x.png")


def test_plot_labels_are_one_bounded_line():
    assert plain_label("a\nb") == "a b" and len(plain_label(LONG)) == 60 and plain_label(LONG).endswith("…")


# ------------------------------------------------------------------------------------------- the dataset card


def test_hostile_dataset_card_is_inert_and_writes_only_inside_out(hostile_package, benign_package, tmp_path):
    before = files_under(tmp_path)
    out = tmp_path / "out" / "card"
    assert main(["card", "dataset", "--data", str(hostile_package), "--out", str(out), "--draft",
                 "--min-group-size", "1"]) == 0
    written = files_under(tmp_path) - before
    assert written and all(out in p.parents for p in written)
    assert {p.parent for p in written} == {out, out / "figures"}
    assert not list(tmp_path.parent.glob("ESCAPED*"))  # where the old `figures/card-x/../../../../` led
    assert all(len(p.name) <= 100 for p in written)
    charts = sorted(p.name for p in (out / "figures").iterdir())
    assert len(charts) == len(HOSTILE_NAMES)  # one chart per attribute: no two names share a file
    card = (out / "dataset_card.md").read_text(encoding="utf-8")
    assert_inert(card)
    for chart in charts:
        assert f"(figures/{chart})" in card

    benign = tmp_path / "benign-out"
    assert main(["card", "dataset", "--data", str(benign_package), "--out", str(benign), "--draft",
                 "--min-group-size", "1"]) == 0
    expected = heading_lines((benign / "dataset_card.md").read_text(encoding="utf-8"))
    got = heading_lines(card)
    assert len(got) == len(expected) and [h.split(" ")[0] for h in got] == [h.split(" ")[0] for h in expected]
    assert not any(line.lstrip("#").strip().startswith(("heading", "h")) for line in got)
    metadata, _ = parse_front_matter(card)  # the front matter holds the names as YAML data
    assert metadata["pretty_name"] == "evil\n# heading\n<script>alert(1)</script>"
    assert metadata["segaudit"]["derived_attributes"] == ["x/../../../../ESCAPED"]


def test_hostile_dataset_card_with_facts(hostile_package):
    facts = load_facts(DATASET_FACTS)
    for key in ("summary", "purpose", "transformations", "annotation", "validation", "sampling"):
        facts[key] = HOSTILE_TEXT
    facts["access"]["location"] = "loc\n# heading <script>x</script>"
    facts["authors"][0].update(name="[n](javascript:alert(1))", email="x@y.co", team="<b>t</b>")
    facts["risk_acceptance"] = [{"risk": "r\n# h", "accepted_by": "<script>", "rationale": HOSTILE_TEXT}]
    summary = dataset_summary(load_package(hostile_package))
    card = render_dataset_card(summary, facts, draft=True, min_group_size=1)
    assert_inert(card)
    plain = render_dataset_card(summary, load_facts(DATASET_FACTS), draft=True, min_group_size=1)
    assert heading_lines(card) == heading_lines(plain)  # the facts added no heading


def test_write_cards_as_the_audit_calls_it_keeps_every_file_inside(hostile_package, hostile_audit, tmp_path):
    """`segaudit audit` writes its dataset card through the same function: no chart outside the audit folder."""
    before = files_under(tmp_path)
    facts = tmp_path / "facts.yaml"
    facts.write_text(yaml.safe_dump(load_facts(MODEL_FACTS)))
    written = write_cards(hostile_audit, facts, dataset_summary=dataset_summary(load_package(hostile_package)),
                          draft=True, min_group_size=1)
    new = files_under(tmp_path) - before - {facts}
    assert {p.resolve() for p in written} == {p.resolve() for p in new}
    assert all(hostile_audit in p.parents for p in new)


# ------------------------------------------------------------------------------- model card, by_group, report


def test_hostile_model_card_and_by_group_json(hostile_audit, tmp_path):
    facts = hostile_model_facts()
    audit = json.loads((hostile_audit / "audit.json").read_text())
    card = render_model_card(audit, facts, draft=True, min_group_size=1)
    assert_inert(card)
    benign = render_model_card(json.loads((REFERENCE / "audit.json").read_text()), load_facts(MODEL_FACTS),
                               min_group_size=1)
    got, expected = heading_lines(card), heading_lines(benign)
    assert len(got) == len(expected) and [h.split(" ")[0] for h in got] == [h.split(" ")[0] for h in expected]
    assert "$\\frac{$" not in card and "\\$\\\\frac{\\$" in card  # escaped: no math in a Markdown renderer
    assert "](" not in card.split("### Relevant Links")[1].split("###")[0]  # both unsafe links are text

    facts_file = tmp_path / "facts.yaml"
    facts_file.write_text(yaml.safe_dump(facts, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "rendered"
    before = files_under(tmp_path)
    assert main(["card", "render", "--audit", str(hostile_audit), "--facts", str(facts_file), "--out", str(out),
                 "--draft", "--min-group-size", "1"]) == 0
    assert {p.name for p in files_under(tmp_path) - before} == {"model_card.md", "by_group.json", "model_card.cdx.json"}
    assert_inert((out / "model_card.md").read_text(encoding="utf-8"))
    groups = json.loads((out / "by_group.json").read_text(encoding="utf-8"))
    labels = {g["group"] for g in groups["fairness"]["attributes"]["skin_tone"]}
    assert {"$\\frac{$", "<script>alert(1)</script>", "x\n# heading"} <= labels  # data, exactly as given
    assert "x/../../ESCAPED" in groups["fairness"]["attributes"] and LONG in {
        g["group"] for g in groups["fairness"]["attributes"]["age_group"]}


def test_hostile_report_renders_plots_without_mathtext_and_escapes_everything(hostile_audit, tmp_path):
    out = tmp_path / "report" / "report.html"
    before = files_under(tmp_path)
    assert main(["card", "report", "--audit", str(hostile_audit), "--out", str(out)]) == 0
    assert files_under(tmp_path) - before == {out}
    html = out.read_text(encoding="utf-8")
    assert_inert(html.replace('<img src="data:image/png;base64,', ""), markdown=False)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "$\\frac{$" in html
    assert not re.search(r'href="(?!#)', html.split("</head>")[1])  # no link leaves the page
