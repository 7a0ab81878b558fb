"""Membership-inference privacy audit of a segmentation model (issue 6); see audit.py for the flow.

    from segaudit.audit.privacy import PrivacyConfig, run_privacy_audit, write_outputs
    result = run_privacy_audit("runs/sinet/model.pte", "data/people", PrivacyConfig(shadow_models=8))
    write_outputs(result, "reports/privacy")

Files, one idea each: config (the settings), target (artifact and recipe), signals (what a query measures),
shadows (shadow models: plan, cache, parallel training), prefetch (shadows trained before the target exists),
attacks/ (loss, population, LiRA, RMIA, loss-map CNN, label-only), metrics (ROC, AUC CI, TPR at low FPR,
epsilon lower bound), groups (per subgroup), risk (levels), result (privacy.json), outputs (files), plots
(log-log ROC).
"""

from segaudit.audit.privacy.audit import run_privacy_audit
from segaudit.audit.privacy.config import ATTACKS, PrivacyConfig, default_cache_dir
from segaudit.audit.privacy.outputs import comparison_table, write_outputs
from segaudit.audit.privacy.result import PrivacyResult

__all__ = ["ATTACKS", "PrivacyConfig", "PrivacyResult", "comparison_table", "default_cache_dir",
           "run_privacy_audit", "write_outputs"]
