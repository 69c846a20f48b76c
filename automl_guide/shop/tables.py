"""Validating a shop's own tables against the pandera schemas in ``automl_guide_schemas.shop``.

Lazy, like flat data: one :class:`DataError` names every failing column and check with sample
rows, so a user fixes a table in one pass. Returns the validated table with its columns coerced
(ids as strings, timestamps parsed, prices as floats, quantities as integers).
"""
from __future__ import annotations

import pandas as pd

from ..errors import DataError
from ..schema import describe_failures


def validate_table(name: str, frame: pd.DataFrame, day_first: bool | None = None
                   ) -> pd.DataFrame:
    """``frame`` checked and coerced as the shop table ``name`` (products, customers, events,
    orders or queries). ``day_first`` reads dates that the table leaves ambiguous (01/02/2026)
    in the order another table of the shop shows."""
    import pandera.errors

    from automl_guide_schemas.shop import TABLES, parse_timestamps, timestamp_problems

    if name not in TABLES:
        raise DataError(f"Unknown shop table {name!r}; the tables are {', '.join(TABLES)}.")
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise DataError(f"The {name} table has no rows.")
    index, frame = frame.index, frame.reset_index(drop=True)  # rows named by position
    problem = timestamp_problems(frame["timestamp"]) if "timestamp" in frame else None
    if problem:
        raise DataError(f"The {name} table's 'timestamp' column {problem}.")
    if day_first is not None and "timestamp" in frame:
        frame["timestamp"] = parse_timestamps(frame["timestamp"], day_first)
    schema = TABLES[name]()
    try:
        table = schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        if not set(schema.unique or ()) <= set(frame.columns):  # checked on part of the key,
            # pandera's uniqueness would call the lines of different orders duplicates
            cases = cases[cases["check"] != "multiple_fields_uniqueness"]
        raise DataError(f"The {name} table does not match its schema:\n"
                        + describe_failures(cases, columns=frame.columns)) from None
    table.index = index
    if "quantity" in table:  # checked whole above
        table["quantity"] = table["quantity"].astype("int64")
    return table
