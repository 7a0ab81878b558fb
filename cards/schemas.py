"""Which human-written facts a model card and a dataset card need (see `cards.facts` for the checking).

The model card's facts follow the documented model-card template v1.0.0 section by section; everything an audit
can compute (metrics, fairness, membership-inference risk, sizes, dates of the audit) is deliberately absent.

Required facts block a final card when missing (render with --draft to see them marked). The template's other
sections are optional facts (`MODEL_PERSON_SECTIONS`, `DATASET_PERSON_SECTIONS`): the card fills what it can
from audit.json or the dataset package, and where a section needs what only a person knows and the facts do not
say it, the card shows a visible "[needs a person: ...]" marker and calls itself a draft. Regulatory facts (an
EU declaration of conformity, the standards applied) are never implied: an absent declaration is a marker, and a
facts file states plainly that none exists.
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
OPTIONAL_VERSION = Leaf("version", required=False)
OPTIONAL_DATE = Leaf("date", required=False)
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

MODEL_PERSON_SECTIONS: dict = {
    "domains": Section({"description": OPTIONAL_TEXT, "tasks": OPTIONAL_TEXT, "deployer_instructions": OPTIONAL_TEXT}),
    "architecture": Section({"description": OPTIONAL_TEXT, "components": OPTIONAL_TEXT,
                             "training_methodology": OPTIONAL_TEXT, "training_duration": OPTIONAL_TEXT,
                             "compute": OPTIONAL_TEXT}),
    "data": Section({"collection": OPTIONAL_TEXT, "cleaning": OPTIONAL_TEXT, "transformation": OPTIONAL_TEXT,
                     "splitting": OPTIONAL_TEXT, "shuffle": OPTIONAL_TEXT}),
    "objective": Section({"goals": OPTIONAL_TEXT}),
    "bias": Section({"mitigation": OPTIONAL_TEXT, "retraining": OPTIONAL_TEXT, "post_processing": OPTIONAL_TEXT}),
    "interpretability": Section({"techniques": OPTIONAL_TEXT, "how_interpretable": OPTIONAL_TEXT}),
    "conformity": Section({"eu_declaration": OPTIONAL_TEXT, "standards": OPTIONAL_TEXT}),
}
"""The model template's sections that only a person can fill (all optional: a gap is a visible marker)."""

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
                 "other_datasets": Records(OTHER_DATASET, min_items=0, required=False),
                 "process": OPTIONAL_TEXT, "initialisation": OPTIONAL_TEXT, "validation": OPTIONAL_TEXT,
                 "hyperparameter_tuning": OPTIONAL_TEXT, "regularisation": OPTIONAL_TEXT,
                 "early_stopping": OPTIONAL_TEXT},
    "evaluation": {"description": TEXT, "dataset": AUDITED_DATASET,
                   "other_datasets": Records({**OTHER_DATASET, "overall": BOOL, "fairness": BOOL},
                                             min_items=0, required=False),
                   "robustness": OPTIONAL_TEXT, "baselines": OPTIONAL_TEXT},
    "caveats": TEXT,
    "documentation": {"authors": Records({"name": TEXT, "email": OPTIONAL_EMAIL, "role": TEXT}),
                      "version": OPTIONAL_VERSION, "note": OPTIONAL_TEXT},
    **MODEL_PERSON_SECTIONS,
    **REVIEW,
}
"""Facts of a model card (cards/alisnet.yaml is the filled-in example)."""

DATASET_PERSON_SECTIONS: dict = {
    "status": Section({"date": OPTIONAL_DATE, "state": Leaf("choice", required=False, choices=STATUSES)}),
    "links": Records({"title": TEXT, "url": URL}, min_items=0, required=False),
    "deployer_instructions": OPTIONAL_TEXT,
    "versioning": Section({"tools": OPTIONAL_TEXT, "schema": OPTIONAL_TEXT, "change_log": OPTIONAL_TEXT,
                           "maintenance": OPTIONAL_TEXT}),
    "known_usage": Section({
        "models": Records({"model": TEXT, "url": OPTIONAL_URL, "task": TEXT, "purpose": TEXT}, min_items=0,
                          required=False),
        "applications": Records({"application": TEXT, "url": OPTIONAL_URL, "description": TEXT, "purpose": TEXT},
                                min_items=0, required=False)}),
    "characteristics": Section({"geographical_scope": OPTIONAL_TEXT, "collection_dates": OPTIONAL_TEXT}),
    "origin": Section({"sources": OPTIONAL_TEXT, "third_party": OPTIONAL_TEXT, "ethical_sourcing": OPTIONAL_TEXT}),
    "collection": Section({"methods": OPTIONAL_TEXT, "details": OPTIONAL_TEXT, "sources": OPTIONAL_TEXT,
                           "cadence": OPTIONAL_TEXT}),
    "preprocessing": Section({"cleaning": OPTIONAL_TEXT, "feature_engineering": OPTIONAL_TEXT,
                              "dimensionality_reduction": OPTIONAL_TEXT, "augmentation": OPTIONAL_TEXT}),
    "sampling_details": Section({"methods": OPTIONAL_TEXT, "characteristics": OPTIONAL_TEXT,
                                 "criteria": OPTIONAL_TEXT}),
    "correlations": OPTIONAL_TEXT,
    "sensitivity": Section({"types": OPTIONAL_TEXT, "handling": OPTIONAL_TEXT}),
    "distribution": Section({"availability": OPTIONAL_TEXT, "rights": OPTIONAL_TEXT}),
    "citation": OPTIONAL_TEXT,
    "access_details": Section({"security_classification": OPTIONAL_TEXT, "prerequisites": OPTIONAL_TEXT,
                               "retention_reasons": OPTIONAL_TEXT, "retention_policy": OPTIONAL_TEXT}),
    "risk_assessment": OPTIONAL_TEXT,
    "security": Section({"storage": OPTIONAL_TEXT, "transfer": OPTIONAL_TEXT, "processing": OPTIONAL_TEXT,
                         "standards": OPTIONAL_TEXT, "monitoring": OPTIONAL_TEXT}),
    "conformity": Section({"eu_declaration": OPTIONAL_TEXT, "standards": OPTIONAL_TEXT}),
    "documentation": Section({"version": OPTIONAL_VERSION}),
}
"""The data template's sections that only a person can fill (all optional: a gap is a visible marker)."""

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
    **DATASET_PERSON_SECTIONS,
    **REVIEW,
}
"""Facts of a dataset card (cards/synthetic-people.yaml is the filled-in example); the rest comes from the
package's dataset.yaml and manifest."""
