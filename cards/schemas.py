"""Which human-written facts a model card and a dataset card need (see `cards.facts` for the checking).

The model card's facts follow the documented model-card template v1.0.0 section by section; everything an audit
can compute (metrics, fairness, membership-inference risk, sizes, dates of the audit) is deliberately absent.
"""

from __future__ import annotations

from segaudit.cards.facts import AI_ACT_RISKS, BOOL, DATE, OPTIONAL_TEXT, STATUSES, TEXT, Leaf, Records

PERSON = {"name": TEXT, "email": OPTIONAL_TEXT, "team": OPTIONAL_TEXT}
AUDITED_DATASET = {"location": TEXT, "sensitive": BOOL}
OTHER_DATASET = {"name": TEXT, "location": TEXT, "sensitive": BOOL, "size": TEXT}
RISK_FROM_RESULTS = {"title": TEXT, "description": TEXT, "mitigation": OPTIONAL_TEXT}

MODEL_FACTS: dict = {
    "model": {"name": TEXT, "type": TEXT, "description": TEXT, "license": OPTIONAL_TEXT},
    "status": {"date": DATE, "state": Leaf("choice", choices=STATUSES), "note": OPTIONAL_TEXT},
    "links": Records({"title": TEXT, "url": TEXT}),
    "developers": Records(PERSON),
    "owners": {"team": {"name": TEXT, "email": OPTIONAL_TEXT}, "contact": {"name": TEXT, "email": OPTIONAL_TEXT}},
    "version": {"current": TEXT, "release_date": TEXT, "card_updated_for": TEXT,
                "artifacts": Records({"name": TEXT, "location": TEXT}, min_items=0, required=False)},
    "intended_use": TEXT,
    "out_of_scope_uses": TEXT,
    "known_applications": Records({"application": TEXT, "url": OPTIONAL_TEXT, "purpose": TEXT,
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
    "documentation": {"authors": Records({"name": TEXT, "email": OPTIONAL_TEXT, "role": TEXT})},
}
"""Facts of a model card (cards/alisnet.yaml is the filled-in example)."""

DATASET_FACTS: dict = {
    "summary": TEXT,
    "authors": Records(PERSON),
    "owners": {"team": {"name": TEXT, "email": OPTIONAL_TEXT}, "contact": {"name": TEXT, "email": OPTIONAL_TEXT}},
    "data_subjects": TEXT,
    "purpose": TEXT,
    "usage": {"intended": TEXT, "out_of_scope": TEXT},
    "access": {"location": TEXT, "policy": TEXT, "retention": TEXT, "deletion": TEXT},
    "transformations": TEXT,
    "annotation": TEXT,
    "validation": TEXT,
    "sampling": TEXT,
    "license_note": OPTIONAL_TEXT,
}
"""Facts of a dataset card (cards/synthetic-people.yaml is the filled-in example); the rest comes from the
package's dataset.yaml and manifest."""
