"""`run_audit`: the compliance review in one call — fairness, privacy, cards and report around one audit.json.

    model + dataset package
      -> per-image table (inference through runtime.Segmenter: what a phone produces; with the privacy
         settings' --executor ray, as chunked Ray tasks giving the same table)
      -> performance (pooled mIoU with a bootstrap CI) and the fairness audit        -> OUT/fairness/
      -> the membership-inference audit (optional)                                   -> OUT/privacy/
      -> audit.json (docs/audit-json.md)
      -> model card, dataset card, by_group.json, report.html (cards/, from audit.json only)

Everything is written into a hidden staging folder beside OUT and moved into place when complete: an
interrupted run leaves no half audit, and the next run starts cleanly. The same inputs and seed give the same
audit.json apart from `provenance.started` / `finished` / `seconds` (the volatile facts live there only).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from segaudit.app.audit_config import AuditConfig
from segaudit.audit.fairness import audit_fairness
from segaudit.audit.fairness import write_outputs as write_fairness
from segaudit.audit.fairness.outputs import fairness_json
from segaudit.audit.performance import performance_summary
from segaudit.core.atomic import json_text, staged_folder
from segaudit.core.audit_file import SCHEMA_VERSION
from segaudit.core.errors import InputError
from segaudit.models.data.package import DatasetPackage, load_package

log = logging.getLogger(__name__)
AUDIT_FILE = "audit.json"
PACKAGES = ("torch", "torchvision", "executorch", "torchao", "opacus", "numpy", "scipy", "pandas", "scikit-learn",
            "jinja2")
OUTPUTS = {"fairness": "fairness", "privacy": "privacy", "model_card": "model_card.md",
           "dataset_card": "dataset_card.md", "dataset_summary": "dataset_summary.json", "by_group": "by_group.json",
           "report": "report.html"}


def run_audit(model: str | Path, data: str | Path, out: str | Path, config: AuditConfig | None = None,
              command: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Audit `model` on the package `data` into folder `out`; returns audit.json's content."""
    from segaudit.models.runtime import Segmenter

    config = config or AuditConfig()
    out = Path(out)
    _check_destination(out)
    started, clock = _now(), time.perf_counter()
    seconds: dict[str, float] = {}
    package = load_package(data)
    segmenter = Segmenter(model)
    facts = _facts(config)  # read early: a bad facts file fails before an hour of shadows

    out.parent.mkdir(parents=True, exist_ok=True)
    ray = _ray_settings(config)  # one Ray connection (or one Ray started here) for the inference and the privacy
    # audit; the staged folder also removes what killed audits left beside OUT
    with staged_folder(out, tag="staging") as staging, _ray_session(ray):
        step = time.perf_counter()
        table = _table(segmenter, package, config, ray, progress)
        performance = performance_summary(table, package.spec.classes, config.split, seed=config.seed)
        fairness = audit_fairness(table, package.spec, config.fairness)
        write_fairness(fairness, staging / OUTPUTS["fairness"], table)
        seconds["inference_and_fairness"] = time.perf_counter() - step

        privacy = None
        if config.privacy is not None:
            from segaudit.audit.privacy import run_privacy_audit
            from segaudit.audit.privacy import write_outputs as write_privacy
            from segaudit.audit.privacy.outputs import privacy_json

            step = time.perf_counter()
            result = run_privacy_audit(model, data, config.privacy, recipe=config.recipe, progress=progress)
            write_privacy(result, staging / OUTPUTS["privacy"])
            seconds.update({f"privacy_{k}": v for k, v in result.seconds.items()})
            privacy = json.loads(privacy_json(result))  # plain JSON values, as privacy.json holds them
            seconds["privacy"] = time.perf_counter() - step

        audit = {
            "schema_version": SCHEMA_VERSION,
            "model": _model_block(segmenter, model, facts),
            "dataset": _dataset_block(package),
            "performance": performance,
            "quantization": _quantization(segmenter),
            "fairness": json.loads(fairness_json(fairness)),  # plain JSON values, as fairness.json holds them
            "privacy": _stable_privacy(privacy, seconds),
            "card": None,
            "outputs": _outputs(config, privacy is not None),
            "provenance": {},
        }
        step = time.perf_counter()
        audit["card"] = _card_status(facts)
        # The cards are rendered from this dict (dated by the audit's end: the analysis is done; only the
        # seconds spent on the cards themselves are added before audit.json is written, once, last)
        audit["provenance"] = _provenance(config, command, started, seconds, finished=_now())
        _check_contract(audit)
        _write_cards(staging, audit, package, facts, config)
        seconds["cards"] = time.perf_counter() - step
        seconds["total"] = time.perf_counter() - clock
        audit["provenance"]["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
        (staging / AUDIT_FILE).write_text(json_text(audit), encoding="utf-8")  # checked above; only seconds changed
    log.info("wrote %s", out / AUDIT_FILE)
    return audit


def _ray_settings(config: AuditConfig) -> Any:
    """The privacy settings' Ray executor (executors.RaySettings), or None for the local executor: with
    `--executor ray` the fairness split's inference runs on the cluster too."""
    if config.privacy is None or config.privacy.executor != "ray":
        return None
    from segaudit.audit.privacy.executors import RaySettings

    return RaySettings.from_config(config.privacy)


def _ray_session(ray: Any) -> Any:
    """One Ray connection (or one Ray started here) for the fairness inference and the privacy audit."""
    from contextlib import nullcontext

    if ray is None:
        return nullcontext()
    from segaudit.audit.privacy.executors import ray_session

    return ray_session(ray)


def _table(segmenter: Any, package: DatasetPackage, config: AuditConfig, ray: Any, progress: bool) -> Any:
    """The per-image table of the audited split: in this process, or as chunked Ray tasks (the same table)."""
    if ray is None:
        from segaudit.audit.metrics import table_from_segmenter

        return table_from_segmenter(segmenter, package, config.split, progress=progress)
    from segaudit.audit.privacy.executors import table_ray

    return table_ray(segmenter, package, config.split, ray, cache=config.privacy.cache, progress=progress)


def _outputs(config: AuditConfig, privacy: bool) -> dict[str, str]:
    skipped = {"privacy": not privacy, "model_card": config.facts is None, "by_group": config.facts is None,
               "report": not config.report}
    return {k: v for k, v in OUTPUTS.items() if not skipped.get(k, False)}


def _check_destination(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError("exists and is not a folder; --out is the folder the audit writes", path=out)
    if any(out.iterdir()) and not (out / AUDIT_FILE).is_file():
        raise InputError(f"exists and holds other files; give a new or empty folder (a previous audit, with its "
                         f"{AUDIT_FILE}, is replaced)", path=out)


def _facts(config: AuditConfig) -> dict[str, Any] | None:
    if config.facts is None:
        return None
    from segaudit.cards import load_facts

    return load_facts(config.facts)


def _model_block(segmenter: Any, given: str | Path, facts: dict[str, Any] | None) -> dict[str, Any]:
    from segaudit.models.checkpoint import sha256_file
    from segaudit.models.registry import build, count_parameters

    artifact = segmenter.artifact
    cfg = segmenter.config
    try:
        params = count_parameters(build(cfg["model"], num_classes=int(cfg["num_classes"]), **cfg.get("model_cfg", {})))
    except Exception:  # a model the registry cannot build here: the count stays unknown, not wrong
        params = None
    version = (facts or {}).get("version") or "0"
    if isinstance(version, dict):  # card facts: version: {current: 1.0.0, release_date: ...}
        version = version.get("current") or "0"
    return {"name": cfg["model"], "version": str(version), "artifact": str(given), "sha256": sha256_file(artifact),
            "format": segmenter.format, "size_bytes": artifact.stat().st_size, "params": params,
            "classes": {str(k): v for k, v in segmenter.classes.items()}, "image_size": segmenter.image_size}


def _dataset_block(package: DatasetPackage) -> dict[str, Any]:
    manifest = package.manifest
    splits = sorted(manifest["split"].unique())
    attributes = {}
    for name, spec in package.spec.attributes.items():
        entry: dict[str, Any] = {"kind": spec.kind, "sensitive": spec.sensitive, "source": spec.source}
        if spec.values is not None:
            entry["values"] = list(spec.values)
        if spec.unit is not None:
            entry["unit"] = spec.unit
        if spec.range is not None:
            entry["range"] = list(spec.range)
        if spec.kind != "continuous":
            entry["counts"] = {split: {str(k): int(v) for k, v in
                                       manifest.loc[manifest["split"] == split, name].value_counts().sort_index()
                                       .items()} for split in splits}
        attributes[name] = entry
    return {"name": package.spec.name, "version": package.spec.version, "manifest_sha256": package.manifest_sha256,
            "n": {split: int((manifest["split"] == split).sum()) for split in splits}, "attributes": attributes}


def _quantization(segmenter: Any) -> dict[str, Any] | None:
    """RUN/quantization.json of a .pte written by `segaudit quantize` (without its volatile provenance)."""
    if segmenter.format != "pte":
        return None
    report = segmenter.path.parent / "quantization.json"
    if not report.is_file():
        return None
    data = json.loads(report.read_text(encoding="utf-8"))
    if data.get("pte_sha256") != segmenter.config.get("pte_sha256"):
        log.warning("%s describes another program than %s; not used", report, segmenter.path)
        return None
    for key in ("float_checkpoint", "pte"):  # names only: where the run lay on the auditing machine is noise
        data[key] = Path(data[key]).name
    data.get("provenance", {}).pop("seconds", None)
    return data


def _stable_privacy(privacy: dict[str, Any] | None, seconds: dict[str, float]) -> dict[str, Any] | None:
    """privacy.json without what differs between a fresh and a cached run (moved to provenance.seconds)."""
    if privacy is None:
        return None
    privacy = dict(privacy)
    for key, value in (privacy.pop("seconds", None) or {}).items():
        seconds[f"privacy_{key}"] = value
    shadows = privacy.get("shadows")
    if isinstance(shadows, dict):
        privacy["shadows"] = {k: v for k, v in shadows.items() if k not in ("trained_now", "from_cache")}
    return privacy


def _card_status(facts: dict[str, Any] | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    from segaudit.cards import check_facts
    from segaudit.cards.schemas import MODEL_FACTS

    gaps = check_facts(facts, MODEL_FACTS)
    return {"complete": not gaps, "missing": [gap.field for gap in gaps]}


def _write_cards(folder: Path, audit: dict[str, Any], package: DatasetPackage, facts: dict[str, Any] | None,
                 config: AuditConfig) -> None:
    """Model card (a draft with its gaps marked when facts are missing), dataset card, report.html."""
    from segaudit.cards.dataset_card import dataset_summary
    from segaudit.cards.outputs import write_dataset_card, write_model_card, write_report
    from segaudit.core.atomic import write_atomic

    if facts is not None and config.facts is not None:
        write_model_card(audit, config.facts, folder / OUTPUTS["model_card"],
                         draft=config.draft or not audit["card"]["complete"], templates=config.templates,
                         min_group_size=config.card_min_group, by_group=folder / OUTPUTS["by_group"])
    dataset_draft = config.draft or config.dataset_facts is None
    if config.dataset_facts is not None:
        from segaudit.cards import check_facts, load_facts
        from segaudit.cards.schemas import DATASET_FACTS

        dataset_draft = dataset_draft or bool(check_facts(load_facts(config.dataset_facts), DATASET_FACTS))
    summary = dataset_summary(package)  # the dataset card's statistics: it can be rendered again without images
    write_atomic(folder / OUTPUTS["dataset_summary"], json_text(summary))
    write_dataset_card(summary, config.dataset_facts, folder / OUTPUTS["dataset_card"],
                       draft=dataset_draft, templates=config.templates, min_group_size=config.card_min_group)
    if config.report:
        write_report(folder, folder / OUTPUTS["report"], templates=config.templates, audit=audit)


def _provenance(config: AuditConfig, command: str | None, started: str, seconds: dict[str, float],
                finished: str | None = None) -> dict[str, Any]:
    from segaudit.audit import __version__

    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    seeds = {"audit": config.seed, "fairness_bootstrap": config.fairness.seed}
    if config.privacy is not None:
        seeds["privacy"] = config.privacy.seed
    return {"tool_version": __version__, "python": sys.version.split()[0], "packages": packages, "seeds": seeds,
            "command": command or "run_audit()", "started": started, "finished": finished or started,
            "seconds": {k: round(v, 2) for k, v in seconds.items()}}


def _check_contract(audit: dict[str, Any]) -> None:
    from segaudit.core.audit_file import schema_errors

    errors = schema_errors(audit)
    if errors:  # our own output breaking our own contract is a bug (exit 3), never the user's input
        raise RuntimeError(f"segaudit built an audit.json that breaks its schema at {errors[0][0] or 'the top'}: "
                           f"{errors[0][1]}")



def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
