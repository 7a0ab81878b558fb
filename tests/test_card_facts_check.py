"""`segaudit card check` refuses facts a reviewer could not rely on, each with exit 2 naming the file and field:
duplicate keys, a version that YAML read as a number, TODO anywhere, javascript:/data: links, malformed e-mail
addresses, and a malformed review record (reviewers, sign_off, risk_acceptance, contact)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from segaudit.app.cli.main import main
from segaudit.cards import check_facts, load_audit, load_facts, render_dataset_card, render_model_card
from segaudit.cards.schemas import DATASET_FACTS, MODEL_FACTS

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "cards" / "alisnet.yaml"
DATASET = REPO / "cards" / "synthetic-people.yaml"
AUDIT = REPO / "reports" / "alisnet" / "audit.json"

REVIEW = {
    "reviewers": [{"name": "Ada Lovelace", "role": "privacy officer", "email": "ada@example.org"},
                  {"name": "Grace Hopper", "role": "ML lead"}],
    "sign_off": {"name": "Ada Lovelace", "date": "2026-12-01", "decision": "approved"},
    "risk_acceptance": [{"risk": "On-device deployment", "accepted_by": "Ada Lovelace",
                         "rationale": "The rated risk is inconclusive at the audited sample size."}],
    "contact": {"name": "Model cards desk", "email": "cards@example.org", "url": "https://example.org/cards"},
}


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    """Run `segaudit card check` on `text` written to a file; (exit code, stdout + stderr)."""
    path = tmp_path / "facts.yaml"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    code = main(["card", "check", *extra, str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def edited(source: Path, edit: Any) -> str:
    facts = yaml.safe_load(source.read_text(encoding="utf-8"))
    edit(facts)
    return yaml.safe_dump(facts, sort_keys=False, allow_unicode=True)


def test_the_bundled_facts_and_a_full_review_record_pass(tmp_path, capsys):
    assert check(tmp_path, MODEL.read_text(encoding="utf-8"), capsys)[0] == 0
    assert check(tmp_path, edited(MODEL, lambda f: f.update(REVIEW)), capsys)[0] == 0
    assert check(tmp_path, edited(DATASET, lambda f: f.update(REVIEW)), capsys, "--dataset")[0] == 0


def test_duplicate_keys_are_refused(tmp_path, capsys):
    text = MODEL.read_text(encoding="utf-8") + "\ncaveats: a second value that would silently win\n"
    code, output = check(tmp_path, text, capsys)
    assert code == 2 and "facts.yaml" in output and "duplicate key 'caveats'" in output


@pytest.mark.parametrize("written, shown", [("1.10", "1.1"), ("2", "2")])
def test_a_version_yaml_reads_as_a_number_is_refused(tmp_path, capsys, written, shown):
    text = MODEL.read_text(encoding="utf-8").replace("  current: 1.0.0", f"  current: {written}")
    code, output = check(tmp_path, text, capsys)
    assert code == 2 and "facts.yaml" in output
    assert "version.current: must be text, got the" in output and f"{shown}" in output and 'quote it' in output
    quoted = MODEL.read_text(encoding="utf-8").replace("  current: 1.0.0", '  current: "1.10"')
    assert check(tmp_path, quoted, capsys)[0] == 0


def test_todo_anywhere_is_a_placeholder(tmp_path, capsys):
    code, output = check(tmp_path, edited(MODEL, lambda f: f.update(
        caveats="Low light decreases quality; TODO measure the night shots.")), capsys)
    assert code == 2 and "facts.yaml" in output
    assert "caveats: still holds the placeholder 'TODO'" in output and "night shots" in output
    code, output = check(tmp_path, edited(DATASET, lambda f: f["access"].update(retention="Kept FIXME")), capsys,
                         "--dataset")
    assert code == 2 and "access.retention: still holds the placeholder 'FIXME'" in output
    # a word that merely contains the letters is not a placeholder
    assert check(tmp_path, edited(MODEL, lambda f: f.update(caveats="Mastodon and TODOS are words.")), capsys)[0] == 0


@pytest.mark.parametrize("edit, field, target", [
    (lambda f: f["links"][0].update(url="javascript:alert(1)"), "links[0].url", "javascript:alert(1)"),
    (lambda f: f["links"][0].update(url=" JavaScript:alert(1)"), "links[0].url", "JavaScript:alert(1)"),
    (lambda f: f["known_applications"][0].update(url="data:text/html,x"), "known_applications[0].url", "data:"),
    (lambda f: f["model"].update(description="See [this](javascript:alert(1)) now."), "model.description",
     "javascript:alert(1)"),
    (lambda f: f.update(caveats="An image: ![x](data:image/png;base64,AAAA)"), "caveats", "data:image/png"),
    (lambda f: f.update(intended_use="Autolink <javascript:alert(1)> here."), "intended_use", "javascript:"),
])
def test_javascript_and_data_links_are_refused(tmp_path, capsys, edit, field, target):
    code, output = check(tmp_path, edited(MODEL, edit), capsys)
    assert code == 2 and "facts.yaml" in output and f"{field}: " in output and target in output


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@example.org", "a@example.org, b@example.org",
                                  "Ada <ada@example.org>", "ada@exa mple.org", "ada@@example.org"])
def test_malformed_email_addresses_are_refused(tmp_path, capsys, email):
    code, output = check(tmp_path, edited(MODEL, lambda f: f["owners"]["team"].update(email=email)), capsys)
    assert code == 2 and "facts.yaml" in output and "owners.team.email: must be one e-mail address" in output
    good = edited(MODEL, lambda f: f["owners"]["team"].update(email="team.segaudit+cards@example.co.uk"))
    assert check(tmp_path, good, capsys)[0] == 0


@pytest.mark.parametrize("edit, field", [
    (lambda f: f.update(reviewers=[{"name": "Ada"}]), "reviewers[0].role: missing"),
    (lambda f: f.update(reviewers=[]), "reviewers: needs at least 1 entry"),
    (lambda f: f.update(reviewers=[{"name": "Ada", "role": "lead", "email": "ada"}]), "reviewers[0].email"),
    (lambda f: f.update(sign_off={"name": "Ada", "date": "2026-12-01", "decision": "ok"}), "sign_off.decision"),
    (lambda f: f.update(sign_off={"name": "Ada", "date": "1.12.2026", "decision": "approved"}), "sign_off.date"),
    (lambda f: f.update(sign_off={"name": "Ada", "decision": "rejected"}), "sign_off.date: missing"),
    (lambda f: f.update(risk_acceptance=[{"risk": "r", "accepted_by": "Ada"}]), "risk_acceptance[0].rationale"),
    (lambda f: f.update(contact={"name": "desk"}), "contact.email: missing"),
    (lambda f: f.update(contact={"email": "desk@example.org", "url": "javascript:x"}), "contact.url"),
    (lambda f: f.update(sign_off={"name": "Ada", "date": "2026-12-01", "decision": "approved", "by": "x"}),
     "sign_off.by: unknown field"),
])
def test_a_malformed_review_record_is_refused(tmp_path, capsys, edit, field):
    code, output = check(tmp_path, edited(MODEL, edit), capsys)
    assert code == 2 and "facts.yaml" in output and field in output
    code, output = check(tmp_path, edited(DATASET, edit), capsys, "--dataset")
    assert code == 2 and field in output


def test_every_sign_off_decision_is_accepted():
    facts = load_facts(MODEL)
    for decision in ("approved", "rejected", "needs-changes"):
        facts["sign_off"] = {"name": "Ada", "date": "2026-12-01", "decision": decision}
        assert check_facts(facts, MODEL_FACTS) == []


def test_the_review_record_is_in_both_cards(tmp_path, tiny_package):
    from segaudit.cards import dataset_summary
    from segaudit.models.data.package import load_package

    audit = load_audit(AUDIT)
    card = render_model_card(audit, {**load_facts(MODEL), **REVIEW})
    assert ("**Reviewed by:** [Ada Lovelace](mailto:ada@example.org) (privacy officer), Grace Hopper (ML lead)"
            in card)
    assert "**Sign-off:** approved by Ada Lovelace on 2026-12-01" in card
    assert "* On-device deployment: accepted by Ada Lovelace. The rated risk is inconclusive" in card
    assert ("**Contact for this card:** [Model cards desk](mailto:cards@example.org) "
            "([more](https://example.org/cards))") in card
    assert card.index("**Risk acceptance:**") < card.index("## Model Architecture")  # still among the risks
    assert "Reviewed by" not in render_model_card(audit, load_facts(MODEL))  # absent facts: nothing rendered
    facts = {**load_facts(DATASET), **REVIEW}
    assert check_facts(facts, DATASET_FACTS) == []
    dataset_card = render_dataset_card(dataset_summary(load_package(tiny_package)), facts)
    assert "**Sign-off:** approved by Ada Lovelace" in dataset_card and "**Risk acceptance:**" in dataset_card


def test_rendering_refuses_what_check_refuses(tmp_path, capsys):
    bad = tmp_path / "facts.yaml"
    bad.write_text(edited(MODEL, lambda f: f["links"][0].update(url="javascript:alert(1)")), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["card", "render", "--audit", str(AUDIT), "--facts", str(bad), "--out", str(out)]) == 2
    assert "links[0].url" in capsys.readouterr().err and not out.exists()
