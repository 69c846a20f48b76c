"""The data contract: a pandera schema of the training columns, kept with the model and checked
again on every table that is scored.

At fit time :func:`infer_schema` describes the typed training columns (see
:mod:`automl_guide.columns`): dtype, nullability, the category set of string columns and the
range of numeric ones. The schema travels as pandera's JSON, written beside the ONNX file
(``schema.json``) and embedded in the graph's metadata, so a service holding only
``model.onnx`` checks its input the same way. A schema the user supplies (``--schema``,
``schema=``) is checked against the raw training table before anything else.

At predict time the same schema checks the typed input lazily (every failing column at once).
What the model cannot take (a missing column, text in a numeric column, an infinity) is an
error; drift it can take (a category never seen in training, a number outside the training
range) is counted in one warning, or an error with ``strict=True``.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .columns import MISSING_DATETIME, ColumnInfo, python_value
from .errors import DataError, did_you_mean

MAX_CATEGORIES = 2000  # beyond this many distinct strings a category set says little
_SAMPLE = 5
_FEW = 32  # up to this many rows, a range is checked in Python, faster there than with numpy


def _pa() -> Any:
    import pandera.pandas as pa

    return pa


RUN_SCHEMA_NAME = "automl-guide training data"  # what infer_schema names a run's schema


def infer_schema(typed: pd.DataFrame, columns: Sequence[ColumnInfo]) -> Any:
    """A pandera ``DataFrameSchema`` of ``typed`` (coerced training columns, raw names)."""
    pa = _pa()
    specs = {}
    for info in columns:
        values = typed[info.name]
        checks = []
        if info.onnx_type == "string":
            seen = sorted(set(values[values != ""]))
            if 0 < len(seen) <= MAX_CATEGORIES and info.kind != "text":  # free text: no set
                checks.append(pa.Check.isin(seen, raise_warning=True))
            dtype, nullable = str, False  # missing strings arrive as ""
        else:
            valid = values[values != MISSING_DATETIME] if info.kind == "datetime" else values
            valid = valid[np.isfinite(valid)] if valid.dtype.kind == "f" else valid
            if len(valid):
                checks.append(pa.Check.in_range(python_value(valid.min()), python_value(valid.max()),
                                                raise_warning=True))
            dtype = "float32" if info.onnx_type == "float" else "int64"
            nullable = info.onnx_type == "float"
        specs[info.name] = pa.Column(dtype, checks=checks, nullable=nullable,
                                     description=f"{info.kind}; ONNX input {info.onnx_name}")
    return pa.DataFrameSchema(specs, strict=False, name=RUN_SCHEMA_NAME)


def to_json(schema: Any) -> str:
    return _portable(schema.to_json(indent=1))


def from_json(text: str) -> Any:
    return _pa().DataFrameSchema.from_json(_portable(text))


def _portable(text: str) -> str:
    """The schema's JSON with each string column's dtype written ``str``: pandas' default
    string dtype wherever it is read. pandera writes the storage pandas chose here
    (``string[pyarrow]`` where pyarrow is installed), which a runtime without pyarrow cannot
    read back."""
    import json

    schema = json.loads(text)
    for column in (schema.get("columns") or {}).values():
        if str(column.get("dtype", "")).startswith("string["):
            column["dtype"] = "str"
    return json.dumps(schema, indent=1)


def load_user_schema(source: Any) -> Any:
    """A user's schema: a pandera ``DataFrameSchema``, or the path of its JSON or YAML."""
    pa = _pa()
    if isinstance(source, pa.DataFrameSchema):
        return source
    from pathlib import Path

    path = Path(source)
    if not path.is_file():
        raise DataError(f"No schema file at {path}.")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            return pa.DataFrameSchema.from_yaml(text)
        return pa.DataFrameSchema.from_json(text)
    except Exception as exc:  # pandera raises many kinds of errors for a bad file
        raise DataError(f"{path} is not a pandera schema (JSON or YAML): {exc}") from None


def validate_training(frame: pd.DataFrame, schema: Any) -> None:
    """Check the raw training table against the user's schema; every failure in one error.
    A run's own ``schema.json`` is checked as :func:`check_against_run` says."""
    if getattr(schema, "name", None) == RUN_SCHEMA_NAME:
        check_against_run(frame, schema)
        return
    errors = _pa().errors
    try:
        schema.validate(frame, lazy=True)
    except errors.SchemaErrors as exc:
        raise DataError("The training data does not match the schema you gave:\n"
                        + describe_failures(exc.failure_cases, columns=frame.columns)) from None
    except errors.SchemaError as exc:
        raise DataError(f"The training data does not match the schema you gave: {exc}") from None


def check_against_run(frame: pd.DataFrame, schema: Any) -> None:
    """Check a new training table against an earlier run's ``schema.json``, which describes the
    columns as the model took them (floats as float32, integers, booleans and datetimes as
    int64, strings), not as a file holds them: the table's columns are typed the same way
    first. A missing column, or one whose kind or nullability changed, is an error; values
    outside the earlier ranges or categories are a warning (new data may go further)."""
    from .columns import coerce_arrays, profile_columns, string_names

    frame = string_names(frame)
    missing = [name for name in schema.columns if name not in frame.columns]
    if missing:
        raise DataError(f"The training data lacks column(s) {', '.join(map(repr, missing))} of "
                        "the earlier run's schema.")
    columns = profile_columns(frame[list(schema.columns)])
    try:
        typed = coerce_arrays(frame, columns, by="name")
        notes = InputCheck(schema)(typed)
    except DataError as exc:
        raise DataError(f"Checked against an earlier run's schema (its columns as the model "
                        f"took them): {exc}") from None
    if notes:
        warnings.warn("The training data goes beyond the earlier run's: " + "; ".join(
            notes.values()), UserWarning, stacklevel=3)


def describe_failures(cases: pd.DataFrame, limit: int = 20, columns: Sequence[Any] = ()
                      ) -> str:
    """pandera's failure cases as one line per column and check, with sample rows; a missing
    column as such, with the closest of the table's ``columns``."""
    lines = []
    cases = cases.assign(column=cases["column"].fillna("<table>").astype(str))
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        if check == "column_in_dataframe":
            lines += [f"  - no column {name!r}{did_you_mean(name, columns)}"
                      for name in group["failure_case"]]
            continue
        rows = [_row_label(i) for i in group["index"].dropna().tolist()][:_SAMPLE]
        values = [repr(v) for v in group["failure_case"].tolist()[:_SAMPLE]]
        where = f" (rows {', '.join(rows)})" if rows else ""
        lines.append(f"  - column {column!r}: {check}: {len(group)} failure(s), e.g. "
                     f"{', '.join(values)}{where}")
    more = f"\n  ... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def _row_label(label: Any) -> str:
    """A row as pandera names it: a position (3, not 3.0 when NaN made the column float), or
    the label of a DataFrame's own index (``'order-17'``)."""
    if isinstance(label, (int, float, np.integer, np.floating)) and float(label).is_integer():
        return str(int(label))
    return repr(label)


class InputCheck:
    """A schema compiled for scoring, so that a one-row request does not pay for pandera.

    The category sets and ranges are read out of the schema once. pandera validates the first
    frame of each dtype signature in full (dtype and nullability); later frames with that
    signature only get the nullability test (missing values where training had none) and, for
    string columns, the test that every value is a string, and go back to pandera, for its
    precise error message, when that finds something. A schema with anything beyond the
    inferred dtypes, nullability, category sets and ranges (table checks, uniqueness, strict
    columns: one a user wrote) always goes through pandera. Drift (unseen categories, values
    outside the range) is counted with numpy, one note per column.
    """

    def __init__(self, schema: Any):
        self.schema = schema
        self.columns: list[tuple[str, bool, frozenset | None, tuple | None, bool]] = []
        self.fast = not (schema.checks or getattr(schema, "unique", None)
                         or getattr(schema, "strict", False) not in (False, None))
        self._passed: set[tuple] = set()
        for name, column in schema.columns.items():
            if getattr(column, "unique", False) or getattr(column, "regex", False):
                self.fast = False
            allowed = bounds = None
            for check in column.checks:
                stats = check.statistics or {}
                if "allowed_values" in stats:
                    allowed = frozenset(stats["allowed_values"])
                elif "min_value" in stats and "max_value" in stats:
                    bounds = (stats["min_value"], stats["max_value"])
                if not getattr(check, "raise_warning", False) or (
                        "allowed_values" not in stats and "min_value" not in stats):
                    self.fast = False  # a user's own check: pandera runs it every time
            integer = column.dtype is not None and "int" in str(column.dtype)
            self.columns.append((name, bool(column.nullable), allowed, bounds, integer))
        self._string_set = frozenset(name for name, column in schema.columns.items()
                                     if "str" in str(column.dtype))  # str, string[pyarrow]...

    def __call__(self, typed: pd.DataFrame | Mapping[str, np.ndarray],
                 strict: bool = False) -> dict[str, str]:
        """Check a typed frame (or its columns as 1-D arrays, by raw name) to be scored.
        Returns the drift notes by column (unseen categories, values outside the training
        range), which are errors with ``strict``; a dtype or nullability failure is always an
        error."""
        if isinstance(typed, pd.DataFrame):
            typed = {str(c): typed[c].to_numpy() for c in typed.columns}
        signature = tuple((c, v.dtype.str) for c, v in typed.items())
        if not (self.fast and signature in self._passed and self._plain(typed)):
            self._validate(pd.DataFrame(typed, index=range(len(next(iter(typed.values()), ())))))
            if self.fast:
                self._passed.add(signature)
        notes = self.drift_by_column(typed)
        if notes and strict:
            raise strict_error(notes)
        return notes

    def _plain(self, typed: Mapping[str, np.ndarray]) -> bool:
        """No missing value where training had none, and only strings in string columns (a
        request's few rows: the tests pandas would make, by dtype, in a fraction of its time;
        integers hold no missing value, and a column of strings none that pandas sees)."""
        for name, nullable, *_ in self.columns:
            values = typed.get(name)
            if values is None:
                if not nullable:
                    return False
            elif name in self._string_set:
                if not all(type(v) is str for v in values):
                    return False
            elif nullable or values.dtype.kind in "iub":
                continue
            elif values.dtype.kind == "f" and np.isnan(values).any():
                return False
            elif values.dtype.kind != "f" and pd.isna(values).any():
                return False
        return True

    def _validate(self, typed: pd.DataFrame) -> None:
        errors = _pa().errors
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # drift checks warn; they are counted instead
            try:
                self.schema.validate(typed, lazy=True)
            except errors.SchemaErrors as exc:
                raise DataError("The input does not match the model's schema:\n"
                                + describe_failures(exc.failure_cases)) from None

    def drift(self, typed: pd.DataFrame | Mapping[str, np.ndarray]) -> list[str]:
        """One note per column with unseen categories or values outside the training range."""
        return list(self.drift_by_column(typed).values())

    def drift_by_column(self, typed: pd.DataFrame | Mapping[str, np.ndarray]) -> dict[str, str]:
        """:meth:`drift`'s notes by column name."""
        notes = {}
        for name, _, allowed, bounds, integer in self.columns:
            if name not in typed:
                continue
            values = np.asarray(typed[name])
            if allowed is not None:
                at = [i for i, v in enumerate(values) if v != "" and v not in allowed]
                if at:
                    bad = [values[i] for i in at]
                    sample = ", ".join(repr(v) for v in list(dict.fromkeys(bad))[:_SAMPLE])
                    notes[name] = (f"{name!r}: {len(bad)} row(s) with categories unseen in "
                                   f"training ({sample}): {_rows(at)}")
            elif bounds is not None:
                low, high = bounds
                if len(values) <= _FEW and not any(  # a request's few rows, in Python
                        (v < low or v > high) and not (integer and v == MISSING_DATETIME)
                        for v in values.tolist()):
                    continue
                numbers = values.astype(np.float64)
                if integer:
                    numbers = np.where(values == MISSING_DATETIME, np.nan, numbers)
                outside = (numbers < low) | (numbers > high)
                if outside.any():
                    notes[name] = (f"{name!r}: {int(outside.sum())} row(s) outside the "
                                   f"training range [{_short(low)}, {_short(high)}] (e.g. "
                                   f"{_short(numbers[outside][0])}): "
                                   f"{_rows(np.flatnonzero(outside))}")
        return notes


def _rows(positions: Sequence[int]) -> str:
    """Rows by position from 0 (the request's order), the first few and a count of the rest."""
    shown = ", ".join(str(int(i)) for i in positions[:_SAMPLE])
    more = f" and {len(positions) - _SAMPLE} more" if len(positions) > _SAMPLE else ""
    return f"row{'s' if len(positions) > 1 else ''} {shown}{more}"


def strict_error(notes: Mapping[str, str]) -> DataError:
    """What strict mode raises for drift notes (by column)."""
    return DataError("The input differs from the training data (strict mode):\n  - "
                     + "\n  - ".join(notes.values()))


def check_input(typed: pd.DataFrame, schema: Any, strict: bool = False) -> list[str]:
    """:class:`InputCheck` once: check a typed frame to be scored against ``schema``."""
    return list(InputCheck(schema)(typed, strict).values())


def drift(typed: pd.DataFrame, schema: Any) -> list[str]:
    """One note per column with unseen categories or values outside the training range."""
    return InputCheck(schema).drift(typed)


def _short(value: float) -> str:
    return f"{value:.6g}" if isinstance(value, float) and math.isfinite(value) else str(value)


def summary(schema: Any) -> dict[str, Any]:
    """The schema's essentials for the model card (the full schema is ``schema.json``)."""
    return {"file": "schema.json", "columns": len(schema.columns),
            "nullable": sorted(n for n, c in schema.columns.items() if c.nullable),
            "category_sets": sorted(n for n, c in schema.columns.items()
                                    if any("allowed_values" in (k.statistics or {})
                                           for k in c.checks)),
            "ranges": sorted(n for n, c in schema.columns.items()
                             if any("min_value" in (k.statistics or {}) for k in c.checks))}
