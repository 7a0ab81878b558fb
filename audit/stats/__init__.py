"""Statistics for the fairness audit: stratified bootstrap, rank and permutation tests, corrections, effect
sizes, power and trends; exact binomial bounds for the privacy audit. numpy + scipy only; p-values agree with
scipy.stats on the same data; all randomness comes from a seed or a numpy Generator, so the same inputs and seed
give the same numbers.

Bad inputs (empty, NaN, mismatched lengths, too few values) raise ValueError with a message naming the argument.
"""

from segaudit.audit.stats.binomial import ProportionInterval, clopper_pearson
from segaudit.audit.stats.bootstrap import bootstrap_means, group_bootstrap
from segaudit.audit.stats.corrections import adjust_pvalues, benjamini_hochberg, holm
from segaudit.audit.stats.differences import contrast_ci, mean_difference_ci, reference_weights, worst_to_average_gap
from segaudit.audit.stats.effect_sizes import cliffs_delta, mean_difference
from segaudit.audit.stats.omnibus import kruskal, kruskal_groups, permutation_max_gap
from segaudit.audit.stats.power import minimum_detectable_difference, required_n
from segaudit.audit.stats.results import (
    DifferenceResult,
    GroupBootstrapResult,
    KruskalResult,
    OneVsRestResult,
    PermutationResult,
    SignificanceResult,
    TrendResult,
    WelchResult,
)
from segaudit.audit.stats.tests_two_sample import (
    mann_whitney,
    mann_whitney_vs_rest,
    permutation_mean_difference,
    welch_t,
)
from segaudit.audit.stats.trend import spearman_trend

__all__ = [
    "DifferenceResult",
    "GroupBootstrapResult",
    "KruskalResult",
    "OneVsRestResult",
    "PermutationResult",
    "ProportionInterval",
    "SignificanceResult",
    "TrendResult",
    "WelchResult",
    "adjust_pvalues",
    "benjamini_hochberg",
    "bootstrap_means",
    "cliffs_delta",
    "clopper_pearson",
    "contrast_ci",
    "group_bootstrap",
    "holm",
    "kruskal",
    "kruskal_groups",
    "mann_whitney",
    "mann_whitney_vs_rest",
    "mean_difference",
    "mean_difference_ci",
    "minimum_detectable_difference",
    "permutation_max_gap",
    "permutation_mean_difference",
    "reference_weights",
    "required_n",
    "spearman_trend",
    "welch_t",
    "worst_to_average_gap",
]
