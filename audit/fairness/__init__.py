"""The fairness audit: does the model segment some people worse than others, and how sure are we?

Per-image table (audit.metrics) -> subgroups (every attribute, binned continuous ones, intersections, unknown
as a group) -> per-group means with stratified bootstrap CIs, an omnibus test, each group against the rest or
the best with corrected p-values and effect sizes, power -> a verdict per attribute (fail / pass /
inconclusive, with the reason) -> fairness.json, fairness.csv and plots.

    result = audit_fairness(table, package.spec, FairnessConfig(margin=0.01))
    result.by_group, result.comparisons, result.verdicts, result.trends_frame   # tidy pandas views
    write_outputs(result, "reports/fairness", table)
"""

from importlib import import_module
from typing import Any

from segaudit.audit.fairness.config import FairnessConfig  # light: the CLI reads its defaults for --help

# Everything else on first use (PEP 562): the analysis pulls in scipy and pandas, which `segaudit --help` and the
# settings of every command should not wait for.
_LAZY = {
    "analyse_grouping": "analysis", "audit_fairness": "audit", "fairness_json": "outputs", "write_outputs": "outputs",
    "Comparison": "result", "FairnessResult": "result", "GapResult": "result", "GroupingResult": "result",
    "GroupResult": "result", "OmnibusResult": "result", "TrendSummary": "result", "Grouping": "subgroups",
    "attribute_grouping": "subgroups", "intersection_grouping": "subgroups", "FAIL": "verdict",
    "INCONCLUSIVE": "verdict", "PASS": "verdict",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"segaudit.audit.fairness.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
