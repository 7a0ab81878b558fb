"""Membership-inference privacy audit of a segmentation model (issue 6); see audit.py for the flow.

    from segaudit.audit.privacy import PrivacyConfig, run_privacy_audit, write_outputs
    result = run_privacy_audit("runs/sinet/model.pte", "data/people", PrivacyConfig(shadow_models=8))
    write_outputs(result, "reports/privacy")

Files, one idea each: config (the settings), target (artifact and recipe), signals (what a query measures),
shadows (shadow models: plan, cache, parallel training), prefetch (shadows trained before the target exists),
attacks/ (loss, population, LiRA, RMIA offline and online, loss-map CNN, label-only), metrics (ROC, AUC CI,
TPR at low FPR), balance (a valid game: members and non-members alike), rating (the risk level as a test),
loo (leave-one-shadow-out and the null control), groups (per subgroup, with a test of differences), canary
(a valid DP lower bound from one training run), result (privacy.json), outputs (files), plots (log-log ROC).
"""

from importlib import import_module
from typing import Any

from segaudit.audit.privacy.config import ATTACKS, PrivacyConfig, default_cache_dir  # light: for the CLI's help

_LAZY = {"run_privacy_audit": "audit", "comparison_table": "outputs", "write_outputs": "outputs",
         "PrivacyResult": "result"}


def __getattr__(name: str) -> Any:  # the attacks pull in torch and scipy: loaded on first use (PEP 562)
    if name in _LAZY:
        value = getattr(import_module(f"segaudit.audit.privacy.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ATTACKS", "PrivacyConfig", "PrivacyResult", "comparison_table", "default_cache_dir",
           "run_privacy_audit", "write_outputs"]
