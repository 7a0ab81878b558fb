"""Which human-written facts a model card and a dataset card need (see `cards.facts` for the checking).

The model card's facts follow the documented model-card template v1.0.0 section by section; everything an audit
can compute (metrics, fairness, membership-inference risk, sizes, dates of the audit) is deliberately absent.

Both kinds of card may carry the record of their review (`REVIEW`, all optional): who reviewed the card and in
which role, the sign-off (name, date, decision approved | rejected | needs-changes), per risk who accepted it and
why, and a contact for questions about the card.
"""

from __future__ import annotations

from segaudit.cards.facts import (
    AI_ACT_RISKS,
    BOOL,
    DATE,
    EMAIL,
    OPTIONAL_EMAIL,
    OPTIONAL_TEXT,
    OPTIONAL_URL,
    SIGN_OFF_DECISIONS,
    STATUSES,
    TEXT,
    URL,
    VERSION,
    Leaf,
    Records,
    Section,
)

PERSON = {"name": TEXT, "email": OPTIONAL_EMAIL, "team": OPTIONAL_TEXT}
NAMED = {"name": TEXT, "email": OPTIONAL_EMAIL}
AUDITED_DATASET = {"location": TEXT, "sensitive": BOOL}
OTHER_DATASET = {"name": TEXT, "location": TEXT, "sensitive": BOOL, "size": TEXT}
RISK_FROM_RESULTS = {"title": TEXT, "description": TEXT, "mitigation": OPTIONAL_TEXT}
REVIEW: dict = {
    "reviewers": Records({"name": TEXT, "role": TEXT, "email": OPTIONAL_EMAIL}, min_items=1, required=False),
    "sign_off": Section({"name": TEXT, "date": DATE, "decision": Leaf("choice", choices=SIGN_OFF_DECISIONS),
                         "note": OPTIONAL_TEXT}),
    "risk_acceptance": Records({"risk": TEXT, "accepted_by": TEXT, "rationale": TEXT}, min_items=1,
                               required=False),
    "contact": Section({"name": OPTIONAL_TEXT, "email": EMAIL, "url": OPTIONAL_URL}),
}
"""Optional record of a card's review, shared by model and dataset facts."""

MODEL_FACTS: dict = {
    "model": {"name": TEXT, "type": TEXT, "description": TEXT, "license": OPTIONAL_TEXT},
    "status": {"date": DATE, "state": Leaf("choice", choices=STATUSES), "note": OPTIONAL_TEXT},
    "links": Records({"title": TEXT, "url": URL}),
    "developers": Records(PERSON),
    "owners": {"team": NAMED, "contact": NAMED},
    "version": {"current": VERSION, "release_date": TEXT, "card_updated_for": VERSION,
                "artifacts": Records({"name": TEXT, "location": TEXT}, min_items=0, required=False)},
    "intended_use": TEXT,
    "out_of_scope_uses": TEXT,
    "known_applications": Records({"application": TEXT, "url": OPTIONAL_URL, "purpose": TEXT,
                                   "ai_act_risk": Leaf("choice", choices=AI_ACT_RISKS)}),
    "risks": {
        "reviewed_by": OPTIONAL_TEXT,
        "membership_inference": RISK_FROM_RESULTS,
        "performance_bias": RISK_FROM_RESULTS,
        "other": Records({"title": TEXT, "description": TEXT, "mitigation": TEXT}, min_items=0, required=False),
    },
    "training": {"description": TEXT, "dataset": AUDITED_DATASET,
                 "other_datasets": Records(OTHER_DATASET, min_items=0, required=False)},
    "evaluation": {"description": TEXT, "dataset": AUDITED_DATASET,
                   "other_datasets": Records({**OTHER_DATASET, "overall": BOOL, "fairness": BOOL},
                                             min_items=0, required=False)},
    "caveats": TEXT,
    "documentation": {"authors": Records({"name": TEXT, "email": OPTIONAL_EMAIL, "role": TEXT})},
    **REVIEW,
}
"""Facts of a model card (cards/alisnet.yaml is the filled-in example)."""

DATASET_FACTS: dict = {
    "summary": TEXT,
    "authors": Records(PERSON),
    "owners": {"team": NAMED, "contact": NAMED},
    "data_subjects": TEXT,
    "purpose": TEXT,
    "usage": {"intended": TEXT, "out_of_scope": TEXT},
    "access": {"location": TEXT, "policy": TEXT, "retention": TEXT, "deletion": TEXT},
    "transformations": TEXT,
    "annotation": TEXT,
    "validation": TEXT,
    "sampling": TEXT,
    "license_note": OPTIONAL_TEXT,
    **REVIEW,
}
"""Facts of a dataset card (cards/synthetic-people.yaml is the filled-in example); the rest comes from the
package's dataset.yaml and manifest."""
