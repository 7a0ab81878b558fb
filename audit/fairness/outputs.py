"""Writing an audit's outputs into a folder, atomically.

OUT/fairness.json (the result, deterministic: no timestamps), OUT/fairness.csv (tidy, see
`FairnessResult.to_frame`), OUT/table.csv (the per-image table the audit ran on) and OUT/plots/*.png.
Everything is written into a hidden folder beside OUT and moved into place in one step, so OUT never holds a
half-written audit. An existing OUT is replaced only if it is empty or a previous fairness output (it holds
fairness.json); any other folder is refused, so a mistyped --out cannot wipe unrelated files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from segaudit.audit.fairness.result import FairnessResult
from segaudit.audit.metrics import write_table
from segaudit.core.atomic import staged_folder
from segaudit.core.errors import InputError

JSON_FILE, CSV_FILE, TABLE_FILE, PLOTS_DIR = "fairness.json", "fairness.csv", "table.csv", "plots"


def fairness_json(result: FairnessResult) -> str:
    """fairness.json's text: sorted groups as computed, keys in a fixed order, NaN as null."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_outputs(result: FairnessResult, out: str | Path, table: pd.DataFrame | None = None,
                  plots: bool = True) -> Path:
    """Write the audit into folder `out` (see the module docstring); returns `out`."""
    out = Path(out)
    _check_destination(out)
    with staged_folder(out) as tmp:
        (tmp / JSON_FILE).write_text(fairness_json(result), encoding="utf-8")
        result.to_frame().to_csv(tmp / CSV_FILE, index=False, na_rep="", lineterminator="\n")
        if table is not None:
            write_table(table, tmp / TABLE_FILE)
        if plots:
            from segaudit.audit.fairness.plots import write_plots

            write_plots(result, tmp / PLOTS_DIR)
    return out


def _check_destination(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError("exists and is not a folder; --out is the folder the audit writes", path=out)
    if any(out.iterdir()) and not (out / JSON_FILE).is_file():
        raise InputError(f"exists and holds other files; give a new or empty folder (a previous audit, with "
                         f"its {JSON_FILE}, is replaced)", path=out)
