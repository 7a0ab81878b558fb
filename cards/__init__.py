"""Cards and reports: model cards in the documented template, dataset cards and the HTML audit report, rendered
from an audit's audit.json and human-written facts (YAML) through strict Jinja templates.

    from segaudit.cards import load_audit, load_facts, render_model_card, render_report, write_cards
"""

from segaudit.cards.dataset_card import dataset_summary, render_dataset_card
from segaudit.cards.facts import Gap, check_facts, load_facts
from segaudit.cards.model_card import render_model_card
from segaudit.core.audit_file import load_audit

__all__ = ["Gap", "check_facts", "dataset_summary", "load_audit", "load_facts", "render_dataset_card",
           "render_model_card"]
