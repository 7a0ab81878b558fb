"""The fairness audit: does the model segment some people worse than others, and how sure are we?

Per-image table (audit.metrics) -> subgroups (every attribute, binned continuous ones, intersections, unknown
as a group) -> per-group means with stratified bootstrap CIs, an omnibus test, each group against the rest or
the best with corrected p-values and effect sizes, power -> a verdict per attribute (fail / pass /
inconclusive, with the reason) -> fairness.json, fairness.csv and plots.

    result = audit_fairness(table, package.spec, FairnessConfig(margin=0.01))
    result.by_group, result.comparisons, result.verdicts, result.trends_frame   # tidy pandas views
    write_outputs(result, "reports/fairness", table)
"""

from segaudit.audit.fairness.analysis import analyse_grouping
from segaudit.audit.fairness.audit import audit_fairness
from segaudit.audit.fairness.config import FairnessConfig
from segaudit.audit.fairness.outputs import fairness_json, write_outputs
from segaudit.audit.fairness.result import (
    Comparison,
    FairnessResult,
    GapResult,
    GroupingResult,
    GroupResult,
    OmnibusResult,
    TrendSummary,
)
from segaudit.audit.fairness.subgroups import Grouping, attribute_grouping, intersection_grouping
from segaudit.audit.fairness.verdict import FAIL, INCONCLUSIVE, PASS

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "PASS",
    "Comparison",
    "FairnessConfig",
    "FairnessResult",
    "GapResult",
    "Grouping",
    "GroupResult",
    "GroupingResult",
    "OmnibusResult",
    "TrendSummary",
    "analyse_grouping",
    "attribute_grouping",
    "audit_fairness",
    "fairness_json",
    "intersection_grouping",
    "write_outputs",
]
