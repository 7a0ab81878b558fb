"""`train_shadows`: the shadow models of a privacy audit, trained before the model under audit exists.

Shadows depend on the training recipe, the data and the audit's settings, never on the audited artifact, so
they can train while the target is still being quantized and exported (the demo does this on its otherwise idle
second core). They go into the audit's shadow cache under the keys the audit will look up: both sides plan
with `plan_audit` and `plan_shadows_for`. A later `run_privacy_audit` with the same data, recipe and settings
then trains nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from segaudit.audit.privacy.audit import plan_audit, plan_shadows_for
from segaudit.audit.privacy.config import PrivacyConfig
from segaudit.audit.privacy.executors import RaySettings
from segaudit.audit.privacy.shadows import run_shadows
from segaudit.audit.privacy.target import read_recipe, read_trained
from segaudit.models.data.package import load_package

log = logging.getLogger(__name__)


def train_shadows(recipe: str | Path, data_dir: str | Path, config: PrivacyConfig | None = None,
                  progress: bool = False) -> int:
    """Train and query every shadow the audit of a model trained with `recipe` (a run's config.json) will use;
    returns how many were trained now (0 when the cache had them all or the attacks need none)."""
    config = config or PrivacyConfig()
    recipe = Path(recipe)
    package = load_package(data_dir)
    plan = plan_audit(package, config)
    if not plan.wants_shadows(config):
        return 0
    jobs, inclusion, _ = plan_shadows_for(package, plan, config, read_recipe(recipe), read_trained(recipe))
    trained = run_shadows(jobs, inclusion, config.workers, progress=progress,
                          ray=RaySettings.from_config(config)).trained
    log.info("%d of %d shadow models trained ahead of the audit (cache %s)", trained, len(jobs), config.cache)
    return trained
