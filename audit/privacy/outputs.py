"""Writing a privacy audit into a folder, atomically.

OUT/privacy.json (PrivacyResult.to_dict: deterministic, no timestamps), OUT/roc.png (log-log ROC of every
attack), OUT/comparison.csv (one row per model and attack: the target, plus any compared models such as the
float checkpoint, the int8 .pte and a DP-SGD run), OUT/scores.csv (per image: id, member, each attack's score;
ids and numbers only, no image content). Written into a hidden folder beside OUT and moved into place in one
step; an existing OUT is replaced only when empty or a previous privacy output (it holds privacy.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from segaudit.audit.privacy.result import PrivacyResult
from segaudit.core.atomic import staged_folder
from segaudit.core.errors import InputError

JSON_FILE, ROC_FILE, COMPARISON_FILE, SCORES_FILE = "privacy.json", "roc.png", "comparison.csv", "scores.csv"


def privacy_json(result: PrivacyResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False, default=_plain) + "\n"


def comparison_table(results: dict[str, PrivacyResult]) -> pd.DataFrame:
    """The comparison table: one row per (model label, attack)."""
    return pd.DataFrame([row for label, result in results.items() for row in result.comparison_rows(label)])


def write_outputs(result: PrivacyResult, out: str | Path, compared: dict[str, PrivacyResult] | None = None,
                  label: str = "target", plots: bool = True) -> Path:
    """Write the audit (and the comparison with `compared` models, by label) into folder `out`."""
    out = Path(out)
    _check_destination(out)
    with staged_folder(out) as tmp:
        (tmp / JSON_FILE).write_text(privacy_json(result), encoding="utf-8")
        comparison_table({label: result, **(compared or {})}).to_csv(tmp / COMPARISON_FILE, index=False,
                                                                     lineterminator="\n")
        scores = pd.DataFrame({"id": result.ids, "member": result.member.astype(int)})
        for attack in result.attacks:
            scores[attack.name] = np.asarray(attack.scores, dtype=np.float64)  # float32 would print rounded
        # every digit (pandas writes floats so that they read back to the same double): privacy.json's AUCs and
        # rates can be recomputed from scores.csv exactly
        scores.to_csv(tmp / SCORES_FILE, index=False, lineterminator="\n")
        if plots:
            from segaudit.audit.privacy.plots import plot_roc

            plot_roc(result, tmp / ROC_FILE)
    return out


def _plain(value: object) -> object:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _check_destination(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError("exists and is not a folder; --out is the folder the audit writes", path=out)
    if any(out.iterdir()) and not (out / JSON_FILE).is_file():
        raise InputError(f"exists and holds other files; give a new or empty folder (a previous audit, with its "
                         f"{JSON_FILE}, is replaced)", path=out)
