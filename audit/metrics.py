"""Per-image metrics and the per-image table: where inference ends and the statistics begin.

The table has one row per image: `id`, `split`, one column per attribute, then the metric columns

- `iou`: IoU of the class named "person" when the dataset has one, else the mean IoU over the classes present
  (in the truth or the prediction) in that image;
- `dice`, `boundary_iou`: the same choice (person, else the mean over classes present);
- `pixel_accuracy`: share of non-ignored pixels predicted right;
- `iou_<class>` for every class, and the pixel counts `intersection_<class>`, `union_<class>` from which the
  pooled (dataset-level) IoU of any group is summed.

Conventions: pixels whose truth is `ignore_index` count nowhere. A class absent from both truth and prediction
has no IoU: its `iou_<class>` is NaN (empty in CSV) and it is left out of the mean. An image where the person
class is absent from both scores 1.0 on `iou`, `dice` and `boundary_iou`: there was no one to find and no one
was falsely found. An image whose every pixel is ignored cannot be scored and is refused.

The unit may also be the person (`unit="person"`, for packages with instance masks): one row per person
instance, with `instance` beside `id`, the image's and the person's attributes, and `iou`/`dice` of the
prediction against that person within the person's region (see `person_metrics`), `recall` (the share of the
person recovered), and the pixel counts `intersection_person`/`union_person` for pooled IoU. The people of one
image are one cluster in every interval and test of the fairness audit (`id` names the cluster).

Three ways in, one table out: `table_from_segmenter` (a model through `models.runtime.Segmenter`),
`table_from_predictions` (a folder of predicted masks `<id>.png` from any model or runtime) and `read_table`
(a CSV or Parquet table someone computed elsewhere). `check_table` validates a table for an audit and
`write_table` keeps it as an output. Every problem is an `InputError` naming the file, row and column.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from segaudit.core.atomic import atomic_file
from segaudit.core.errors import InputError
from segaudit.models.data import UNKNOWN, DatasetPackage, load_package

if TYPE_CHECKING:
    from segaudit.models.runtime import Segmenter

log = logging.getLogger(__name__)

HEADLINE = ("iou", "dice", "boundary_iou", "pixel_accuracy", "recall")
UNITS = ("image", "person")
INSTANCE = "instance"
PERSON_MARGIN = 0.25
"""A person's region is their bounding box widened by this fraction of its height and width on each side."""
PER_CLASS_PREFIXES = ("iou_", "intersection_", "union_")
ID = "id"
SPLIT_ALL = "all"
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
MAX_REPORTED = 20
_UNSAFE = re.compile(r"[^a-z0-9]+")


def is_metric_column(name: str) -> bool:
    """Whether a column holds a per-image metric in [0, 1] (`iou`, `dice`, ..., `iou_<class>`)."""
    return name in HEADLINE or name.startswith("iou_")


def is_count_column(name: str) -> bool:
    """Whether a column holds pixel counts for pooled IoU (`intersection_<class>`, `union_<class>`)."""
    return name.startswith(("intersection_", "union_"))


def class_key(name: str) -> str:
    """A class name as a column suffix: lower case, runs of other characters as '_' ('Upper Clothes' ->
    'upper_clothes')."""
    return _UNSAFE.sub("_", name.lower()).strip("_") or "class"


def class_keys(classes: dict[int, str]) -> dict[int, str]:
    """Column suffix of each class id; a suffix two classes would share gets the class id appended."""
    keys = {i: class_key(n) for i, n in classes.items()}
    clashes = {k for k in keys.values() if list(keys.values()).count(k) > 1}
    return {i: f"{k}_{i}" if k in clashes else k for i, k in keys.items()}


def person_class(classes: dict[int, str]) -> int | None:
    """The id of the class named 'person' (any case), or None."""
    hits = [i for i, n in classes.items() if n.strip().lower() == "person"]
    return hits[0] if hits else None


def image_metrics(pred: np.ndarray, target: np.ndarray, classes: dict[int, str], ignore_index: int = 255,
                  dilation_ratio: float = 0.02) -> dict[str, float]:
    """Every metric column of one image (pred, target: [H, W] class ids); conventions in the module docstring.

    Raises ValueError when every target pixel is ignored or a class id is out of range.
    """
    from segaudit.models.evaluate import SegmentationMetrics  # imports torch: only when images are scored

    if not np.any(target != ignore_index):
        raise ValueError(f"every pixel of the truth mask is ignore_index {ignore_index}: nothing to score")
    num_classes = len(classes)
    metrics = SegmentationMetrics(num_classes, ignore_index=ignore_index, boundary=True,
                                  dilation_ratio=dilation_ratio)
    metrics.update(np.asarray(pred), np.asarray(target))
    scores = metrics.compute()
    cm = scores.confusion
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    person = person_class(classes)
    out: dict[str, float] = {}
    if person is None:
        out["iou"] = _nanmean(scores.iou)
        out["dice"] = _nanmean(scores.f1)
        out["boundary_iou"] = _nanmean(scores.boundary_iou)
    elif union[person] == 0:  # no person in truth or prediction: nothing to find, nothing falsely found
        out["iou"] = out["dice"] = out["boundary_iou"] = 1.0
    else:
        out["iou"] = float(scores.iou[person])
        out["dice"] = float(scores.f1[person])
        out["boundary_iou"] = float(scores.boundary_iou[person])
    out["pixel_accuracy"] = float(scores.pixel_accuracy)
    keys = class_keys(classes)
    for i in range(num_classes):
        out[f"iou_{keys[i]}"] = float(scores.iou[i])
    for i in range(num_classes):
        out[f"intersection_{keys[i]}"] = int(tp[i])
        out[f"union_{keys[i]}"] = int(union[i])
    return out


def person_metrics(predicted: np.ndarray, instances: np.ndarray, instance: int,
                   ignored: np.ndarray | None = None) -> dict[str, float]:
    """How well one person of an image is segmented: predicted (HxW bool, pixels predicted as a person),
    instances (HxW ids), the person's id, ignored (HxW bool, pixels that count nowhere).

    The person's region R is their bounding box widened by `PERSON_MARGIN` on each side, without the pixels of
    the other people and the ignored ones, so a prediction spilling onto the background next to them counts
    against them and one covering their neighbour does not. With I the person's pixels and P the predicted
    ones in R: iou = |P & I| / |P | I|, dice = 2|P & I| / (|P| + |I|), recall = |P & I| / |I|.
    """
    person = instances == instance
    if not person.any():
        raise ValueError(f"instance {instance} has no pixels")
    rows, cols = np.flatnonzero(person.any(axis=1)), np.flatnonzero(person.any(axis=0))
    pad_r = math.ceil(PERSON_MARGIN * (rows[-1] - rows[0] + 1))
    pad_c = math.ceil(PERSON_MARGIN * (cols[-1] - cols[0] + 1))
    region = np.zeros_like(person)
    region[max(0, rows[0] - pad_r):rows[-1] + pad_r + 1, max(0, cols[0] - pad_c):cols[-1] + pad_c + 1] = True
    region &= ~((instances > 0) & ~person)
    if ignored is not None:
        region &= ~ignored
    truth = person & region
    pred = predicted & region
    overlap = int((pred & truth).sum())
    union = int((pred | truth).sum())
    size = int(truth.sum())
    if size == 0:
        raise ValueError(f"every pixel of instance {instance} is ignored")
    return {"iou": overlap / union, "dice": 2 * overlap / (int(pred.sum()) + size), "recall": overlap / size,
            "intersection_person": overlap, "union_person": union}


def _nanmean(values: np.ndarray | None) -> float:
    if values is None:
        return math.nan
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


# ---------------------------------------------------------------------------------------------- three ways in


def _as_package(package: DatasetPackage | str | Path) -> DatasetPackage:
    return package if isinstance(package, DatasetPackage) else load_package(package)


def split_rows(package: DatasetPackage, split: str) -> pd.DataFrame:
    """Manifest rows of `split` ('train', 'val', 'test' or 'all'), keeping the manifest's 0-based index."""
    rows = package.manifest if split == SPLIT_ALL else package.manifest[package.manifest["split"] == split]
    if rows.empty:
        raise InputError(f"the package has no images in split '{split}'", path=package.manifest_path,
                         field="split")
    return rows


def table_from_segmenter(model: Segmenter | str | Path, package: DatasetPackage | str | Path, split: str = "test",
                         progress: bool = False, unit: str = "image") -> pd.DataFrame:
    """Run `model` (a Segmenter, a checkpoint folder or a .pte) over a split of a package, batch by batch, and
    score every image (or, with unit="person", every person). `progress` shows a tqdm bar."""
    from tqdm import tqdm

    from segaudit.models.runtime import Segmenter

    package = _as_package(package)
    check_unit(package, unit)
    segmenter = model if isinstance(model, Segmenter) else Segmenter(model)
    check_segmenter(segmenter, package)
    rows = split_rows(package, split)
    records = list(zip(rows.index, rows.to_dict("records"), strict=True))
    bar = tqdm(total=len(records), desc="inference", unit="img", disable=not progress)
    try:
        return _score(package, predict_records(segmenter, package, records, bar.update), where="model prediction",
                      unit=unit)
    finally:
        bar.close()


def check_segmenter(segmenter: Segmenter, package: DatasetPackage) -> None:
    """Refuse a model whose class count differs from the package's; warn when only the class names differ."""
    if segmenter.num_classes != package.spec.num_classes:
        raise InputError(f"the model predicts {segmenter.num_classes} classes but the package declares "
                         f"{package.spec.num_classes}", path=segmenter.path, field="classes")
    if {int(k): v for k, v in segmenter.classes.items()} != package.spec.classes:
        log.warning("the model's class names %s differ from the package's %s; scoring by class id",
                    segmenter.classes, package.spec.classes)


def predict_records(segmenter: Segmenter, package: DatasetPackage, records: Sequence[tuple[int, dict[str, Any]]],
                    done: Callable[[int], object] | None = None) -> Iterator[tuple[int, dict[str, Any], np.ndarray,
                                                                                    Path]]:
    """(manifest index, record, predicted mask, model path) per record, predicted `segmenter.batch_size` images
    at a time; `done(n)` after each batch of n. A caller that cuts the records into pieces cuts them on batch
    boundaries, so every batch holds the same images as in one pass (the table is then the same bytes)."""
    for start in range(0, len(records), segmenter.batch_size):
        batch = records[start:start + segmenter.batch_size]
        masks = segmenter.predict_mask([package.read_image(r) for _, r in batch])
        for (index, record), mask in zip(batch, masks, strict=True):
            yield index, record, mask, segmenter.path
        if done is not None:
            done(len(batch))


def table_from_predictions(package: DatasetPackage | str | Path, predictions: str | Path, split: str = "test",
                           progress: bool = False, unit: str = "image") -> pd.DataFrame:
    """Score a folder of predicted masks `<id>.png` (single-channel class ids, each the size of its image)
    against a split of a package. Every id of the split needs its file; other files are ignored."""
    from tqdm import tqdm

    package = _as_package(package)
    check_unit(package, unit)
    folder = Path(predictions)
    if not folder.is_dir():
        raise InputError("not a folder: predictions are a folder of <id>.png masks", path=folder)
    rows = split_rows(package, split)
    missing = [(index + 1, sid) for index, sid in zip(rows.index, rows["id"], strict=True)
               if not (folder / f"{sid}.png").is_file()]
    if missing:
        shown = ", ".join(f"{sid}.png (manifest row {row})" for row, sid in missing[:MAX_REPORTED])
        raise InputError(f"{len(missing)} predicted mask(s) missing: {shown}", path=folder)
    extra = len(list(folder.glob("*.png"))) - len(rows)
    if extra > 0:
        log.info("%d PNG file(s) in %s belong to no image of split '%s' and are ignored", extra, folder, split)
    allowed = np.zeros(256, dtype=bool)
    allowed[list(package.spec.classes)] = True

    def read() -> Iterator[tuple[int, dict[str, Any], np.ndarray, Path]]:
        for index, record in tqdm(list(zip(rows.index, rows.to_dict("records"), strict=True)), desc="scoring",
                                  unit="img", disable=not progress):
            file = folder / f"{record['id']}.png"
            yield index, record, _read_prediction(file, index + 1, allowed), file

    return _score(package, read(), where="predicted mask", unit=unit)


def _read_prediction(file: Path, row: int, allowed: np.ndarray) -> np.ndarray:
    try:
        with Image.open(file) as opened:
            opened.load()
            if opened.mode not in ("L", "P"):
                raise InputError(f"a predicted mask must be a single-channel PNG of class ids, got mode "
                                 f"{opened.mode}", path=file, row=row)
            mask = np.array(opened)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(f"unreadable or truncated PNG: {exc}", path=file, row=row) from None
    values = np.unique(mask)
    bad = values[~allowed[values]]
    if bad.size:
        raise InputError(f"values {bad.tolist()} are not class ids of the package (0..{int(allowed.sum()) - 1})",
                         path=file, row=row)
    return mask


def check_unit(package: DatasetPackage, unit: str) -> None:
    """Refuse a unit the package cannot give: 'person' needs instance masks (dataset.yaml schema 2)."""
    if unit not in UNITS:
        raise InputError(f"unit {unit!r} is not one of {list(UNITS)}", field="unit")
    if unit == "person" and not package.spec.instances:
        raise InputError("the person as unit needs instance masks: this package declares none (dataset.yaml "
                         "`schema_version: 2` with `instances: true`; the PennFudanPed and COCO importers write "
                         "them)", path=package.root / "dataset.yaml", field="instances")


def unit_attributes(spec: Any, unit: str) -> dict[str, Any]:
    """The attribute declarations of a table of this unit: the image's, plus each person's for 'person'."""
    return {**spec.attributes, **(spec.person_attributes if unit == "person" else {})}


def _score(package: DatasetPackage, predictions: Iterable[tuple[int, dict[str, Any], np.ndarray, Path]],
           where: str, unit: str = "image") -> pd.DataFrame:
    """Score (manifest index, record, predicted mask, source file) items into the per-image (or per-person)
    table."""
    return table_from_rows(package, score_rows(package, predictions, where, unit))


def table_from_rows(package: DatasetPackage, scored: list[dict[str, Any]]) -> pd.DataFrame:
    """The table of rows `score_rows` made (in manifest order; from one pass or several pieces concatenated),
    with the same column types as a table read from a file."""
    if not scored:
        raise InputError("no person instance in the images scored: nothing to audit per person",
                         path=package.manifest_path)
    return normalise_table(pd.DataFrame(scored))


def score_rows(package: DatasetPackage, predictions: Iterable[tuple[int, dict[str, Any], np.ndarray, Path]],
               where: str, unit: str = "image") -> list[dict[str, Any]]:
    """The raw rows (plain dicts, one per image or person) of (manifest index, record, predicted mask, source
    file) items: what a Ray task scoring a piece of a split returns (executors.table_ray)."""
    spec = package.spec
    scored: list[dict[str, Any]] = []
    for index, record, pred, source in predictions:
        truth = package.read_mask(record)
        if pred.shape != truth.shape:
            raise InputError(f"{where} is {pred.shape[1]}x{pred.shape[0]} but the truth mask of id "
                             f"{record['id']!r} is {truth.shape[1]}x{truth.shape[0]}", path=source, row=index + 1)
        if unit == "person":
            scored.extend(_score_people(package, record, pred, truth))
            continue
        try:
            values = image_metrics(pred, truth, spec.classes, spec.ignore_index)
        except ValueError as exc:
            raise InputError(f"{exc} (id {record['id']!r})", path=package.root / record["mask"],
                             row=index + 1) from None
        subject = {"subject_id": record["subject_id"]} if "subject_id" in record else {}
        scored.append({ID: record[ID], "split": record["split"], **subject,
                       **{a: record[a] for a in spec.attributes}, **values})
    return scored


def _score_people(package: DatasetPackage, record: dict[str, Any], pred: np.ndarray,
                  truth: np.ndarray) -> list[dict[str, Any]]:
    """One row per person of an image: the image's and the person's attributes with `person_metrics`."""
    spec = package.spec
    instances = package.read_instances(record)
    person_id = person_class(spec.classes)
    from segaudit.models.data.package import background_ids

    predicted = pred == person_id if person_id is not None else ~np.isin(pred, background_ids(spec.classes))
    ignored = truth == spec.ignore_index
    people = package.persons_of(str(record[ID]), instances)
    rows = []
    for person in people.to_dict("records"):
        try:
            values = person_metrics(predicted, instances, int(person[INSTANCE]), ignored)
        except ValueError as exc:
            raise InputError(f"{exc} (id {record[ID]!r})", path=package.root / record["instances"],
                             field=INSTANCE) from None
        rows.append({ID: record[ID], INSTANCE: int(person[INSTANCE]), "split": record["split"],
                     **{a: record[a] for a in spec.attributes},
                     **{a: person[a] for a in spec.person_attributes}, **values})
    return rows


# ---------------------------------------------------------------------------------------------- reading tables


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a per-image table from CSV or Parquet and normalise it.

    Metric and count columns become float64 (empty = NaN); every other column but `id` and `split` becomes
    float64 when all its non-empty values are numbers (empty = NaN), else text with empty cells as 'unknown'.
    Metric values must lie in [0, 1]; ids must be present, non-empty and unique. Rows in messages are counted
    from 1 after the header.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("not found: expected a per-image table (.csv or .parquet)", path=path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"unsupported table format {suffix or '(no suffix)'!r}; use .csv or .parquet", path=path)
    try:
        if suffix == ".csv":
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        else:
            raw = pd.read_parquet(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV table: {exc}", path=path) from None
    except Exception as exc:  # pyarrow raises many types for a broken file
        raise InputError(f"not a readable table: {exc}", path=path) from None
    return normalise_table(raw, path)


def normalise_table(raw: pd.DataFrame, path: str | Path | None = None) -> pd.DataFrame:
    """Column types of a per-image table as `read_table` describes them (also for an in-memory DataFrame)."""
    raw = raw.copy()
    raw.columns = [str(c) for c in raw.columns]
    if ID not in raw.columns:
        raise InputError(f"the table has no '{ID}' column (columns: {list(raw.columns)})", path=path, field=ID)
    if raw.empty:
        raise InputError("the table has no rows", path=path)
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    out[ID] = _ids(raw[ID], path, raw[INSTANCE] if INSTANCE in raw.columns else None)
    if INSTANCE in raw.columns:
        out[INSTANCE] = _instances(raw[INSTANCE], path)
    for name in raw.columns:
        if name in (ID, INSTANCE):
            continue
        column = raw[name]
        if is_metric_column(name):
            out[name] = _numbers(column, name, path)
        elif is_count_column(name):
            out[name] = _counts(_numbers(column, name, path), name, path)
        elif name == "split":
            out[name] = column.map(_text)
        else:
            out[name] = _attribute_column(column)
    check_values(out, [c for c in out.columns if is_metric_column(c)], path=path, allow_nan=True)
    return out


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def _ids(column: pd.Series, path: str | Path | None, instances: pd.Series | None = None) -> pd.Series:
    """The id column as text, checked: none empty, none repeated (in a per-person table, no (id, instance)
    pair repeated)."""
    ids = column.astype("string").str.strip().fillna("")  # = column.map(_text), vectorised
    empty = np.flatnonzero((ids == "").to_numpy())
    if empty.size:
        raise InputError("empty id", path=path, row=int(empty[0]) + 1, field=ID)
    keys = ids if instances is None else ids + "#" + instances.astype("string").fillna("")
    duplicated = keys.duplicated(keep="first").to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        first = int(np.flatnonzero((keys == keys.iloc[row]).to_numpy())[0])
        what = f"id {ids.iloc[row]!r}" if instances is None else \
            f"person (id {ids.iloc[row]!r}, instance {instances.iloc[row]})"
        raise InputError(f"duplicate {what} (first at row {first + 1}); {int(duplicated.sum())} duplicate(s) in all",
                         path=path, row=row + 1, field=ID)
    return ids.astype(object)


def _instances(column: pd.Series, path: str | Path | None) -> pd.Series:
    """The instance column of a per-person table: integers >= 1."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero((numbers.isna() | (numbers < 1) | (numbers != numbers.round())).to_numpy())
    if bad.size:
        raise InputError(f"instance {column.iloc[bad[0]]!r} is not a person id (an integer >= 1)", path=path,
                         row=int(bad[0]) + 1, field=INSTANCE)
    return numbers.astype(np.int64)


def _numbers(column: pd.Series, name: str, path: str | Path | None) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    text = column.map(_text)
    values = pd.to_numeric(text.where(text != "", None), errors="coerce")
    bad = np.flatnonzero((values.isna() & (text != "")).to_numpy())
    if bad.size:
        raise InputError(f"{text.iloc[bad[0]]!r} is not a number", path=path, row=int(bad[0]) + 1, field=name)
    return values.astype("float64")


def _counts(values: pd.Series, name: str, path: str | Path | None) -> pd.Series:
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0) & (values == np.round(values))).to_numpy())
    if bad.size:
        raise InputError(f"{float(values.iloc[bad[0]])!r} is not a pixel count (a non-negative whole number)",
                         path=path, row=int(bad[0]) + 1, field=name)
    return values.astype("int64")


def _attribute_column(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    text = column.map(_text)
    known = text[text != ""]
    numbers = pd.to_numeric(known, errors="coerce")
    if known.size and not numbers.isna().any():
        return pd.to_numeric(text.where(text != "", None), errors="coerce").astype("float64")
    return text.where(text != "", UNKNOWN).astype(object)


def check_values(table: pd.DataFrame, columns: Sequence[str], *, path: str | Path | None = None,
                 allow_nan: bool = False) -> None:
    """Metric columns must hold numbers in [0, 1] (NaN only where `allow_nan`); InputError naming row/column."""
    for name in columns:
        try:
            values = table[name].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
            row = int(np.flatnonzero(np.isnan(values) & table[name].notna().to_numpy())[0])
            raise InputError(f"{table[name].iloc[row]!r} is not a number", path=path, row=row + 1,
                             field=name) from None
        nan = np.isnan(values)
        if not allow_nan and nan.any():
            rows = np.flatnonzero(nan)
            raise InputError(f"{rows.size} value(s) are missing (NaN), the first at row {rows[0] + 1} "
                             f"(id {table[ID].iloc[rows[0]]!r}); the audited metric must be defined on every "
                             "image", path=path, row=int(rows[0]) + 1, field=name)
        with np.errstate(invalid="ignore"):
            outside = ~nan & ((values < 0.0) | (values > 1.0))
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise InputError(f"{float(values[row])!r} is outside [0, 1] (metric values are fractions, not percent; "
                             f"{int(outside.sum())} such value(s))", path=path, row=row + 1, field=name)


def check_table(table: pd.DataFrame, metric: str, attributes: Iterable[str], path: str | Path | None = None) -> None:
    """Everything an audit needs of a table: rows, unique ids, the metric column with values in [0, 1] and no
    NaN, and every requested attribute column. InputError naming the file, row and column otherwise."""
    if ID not in table.columns:
        raise InputError(f"the table has no '{ID}' column", path=path, field=ID)
    if table.empty:
        raise InputError("the table has no rows", path=path)
    _ids(table[ID], path, table[INSTANCE] if INSTANCE in table.columns else None)
    if metric not in table.columns:
        present = [c for c in table.columns if is_metric_column(str(c))]
        raise InputError(f"no metric column '{metric}' in the table; metric columns present: {present}",
                         path=path, field=metric)
    if not is_metric_column(metric):
        raise InputError(f"'{metric}' is not a metric column (expected one of {list(HEADLINE)} or iou_<class>)",
                         path=path, field=metric)
    check_values(table, [metric], path=path)
    missing = [a for a in attributes if a not in table.columns]
    if missing:
        candidates = [c for c in table.columns if c not in (ID, "split") and not is_metric_column(str(c))
                      and not is_count_column(str(c))]
        raise InputError(f"no attribute column {missing[0]!r} in the table; attribute columns present: "
                         f"{candidates}", path=path, field=missing[0])


def _write_csv(table: pd.DataFrame, path: str) -> None:
    """CSV through pyarrow (about 10x faster than pandas at a million rows; floats in shortest round-trip form,
    missing values empty), or pandas for columns pyarrow cannot type (mixed objects)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        table.to_csv(path, index=False, na_rep="", lineterminator="\n")
        return
    pa_csv.write_csv(arrow, path, write_options=pa_csv.WriteOptions(quoting_style="needed"))


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the table as CSV or Parquet (by suffix), atomically: a temporary file beside it, then a rename."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"unsupported table format {suffix!r}; use .csv or .parquet", path=path)
    with atomic_file(path) as tmp:
        if suffix == ".csv":
            _write_csv(table, str(tmp))
        else:
            table.to_parquet(tmp, index=False)
    return path
