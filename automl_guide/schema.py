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
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .columns import MISSING_DATETIME, ColumnInfo
from .errors import DataError

MAX_CATEGORIES = 2000  # beyond this many distinct strings a category set says little
_SAMPLE = 5


def _pa() -> Any:
    import pandera.pandas as pa

    return pa


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
                checks.append(pa.Check.in_range(_plain(valid.min()), _plain(valid.max()),
                                                raise_warning=True))
            dtype = "float32" if info.onnx_type == "float" else "int64"
            nullable = info.onnx_type == "float"
        specs[info.name] = pa.Column(dtype, checks=checks, nullable=nullable,
                                     description=f"{info.kind}; ONNX input {info.onnx_name}")
    return pa.DataFrameSchema(specs, strict=False, name="automl-guide training data")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def to_json(schema: Any) -> str:
    return schema.to_json(indent=1)


def from_json(text: str) -> Any:
    return _pa().DataFrameSchema.from_json(text)


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
    """Check the raw training table against the user's schema; every failure in one error."""
    errors = _pa().errors
    try:
        schema.validate(frame, lazy=True)
    except errors.SchemaErrors as exc:
        raise DataError("The training data does not match the schema you gave:\n"
                        + describe_failures(exc.failure_cases)) from None
    except errors.SchemaError as exc:
        raise DataError(f"The training data does not match the schema you gave: {exc}") from None


def describe_failures(cases: pd.DataFrame, limit: int = 20) -> str:
    """pandera's failure cases as one line per column and check, with sample rows."""
    lines = []
    cases = cases.assign(column=cases["column"].fillna("<table>").astype(str))
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        rows = [int(i) for i in group["index"].dropna().tolist()][:_SAMPLE]
        values = [repr(v) for v in group["failure_case"].tolist()[:_SAMPLE]]
        where = f" (rows {', '.join(map(str, rows))})" if rows else ""
        lines.append(f"  - column {column!r}: {check}: {len(group)} failure(s), e.g. "
                     f"{', '.join(values)}{where}")
    more = f"\n  ... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def check_input(typed: pd.DataFrame, schema: Any, strict: bool = False) -> list[str]:
    """Check a typed frame to be scored. Returns the drift notes (unseen categories, values
    outside the training range), which are errors with ``strict``; a dtype or nullability
    failure is always an error."""
    errors = _pa().errors
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # drift checks warn; they are counted below instead
        try:
            schema.validate(typed, lazy=True)
        except errors.SchemaErrors as exc:
            raise DataError("The input does not match the model's schema:\n"
                            + describe_failures(exc.failure_cases)) from None
    notes = drift(typed, schema)
    if notes and strict:
        raise DataError("The input differs from the training data (strict mode):\n  - "
                        + "\n  - ".join(notes))
    return notes


def drift(typed: pd.DataFrame, schema: Any) -> list[str]:
    """One note per column with unseen categories or values outside the training range."""
    notes = []
    for name, column in schema.columns.items():
        if name not in typed:
            continue
        values = typed[name]
        for check in column.checks:
            stats = check.statistics or {}
            if "allowed_values" in stats:
                allowed = set(stats["allowed_values"])
                bad = values[(values != "") & ~values.isin(allowed)]
                if len(bad):
                    sample = ", ".join(repr(v) for v in pd.unique(bad)[:_SAMPLE])
                    notes.append(f"{name!r}: {len(bad)} row(s) with categories unseen in "
                                 f"training ({sample})")
            elif "min_value" in stats:
                low, high = stats["min_value"], stats["max_value"]
                numbers = values.to_numpy(dtype=np.float64)
                if column.dtype is not None and "int" in str(column.dtype):
                    numbers = np.where(values.to_numpy() == MISSING_DATETIME, np.nan, numbers)
                outside = (numbers < low) | (numbers > high)
                if outside.any():
                    notes.append(f"{name!r}: {int(outside.sum())} row(s) outside the training "
                                 f"range [{_short(low)}, {_short(high)}] (e.g. "
                                 f"{_short(numbers[outside][0])})")
    return notes


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
