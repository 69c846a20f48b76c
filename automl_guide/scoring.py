"""Scoring JSON rows: the request model of ``automl-guide serve``, the rows read into the graph's
input arrays, and the answer as JSON.

:class:`Scorer` takes a request body (bytes) and gives the answer's bytes, or raises
:class:`Refusal` with the status and the error to send. Rows whose every value has its column's
plain JSON type (the usual request) go from the parsed JSON straight into the graph's inputs
(:meth:`~automl_guide.Predictor.typed_records`); anything else goes through the request model
(pydantic, which names each bad cell as ``rows[3].price``) and a DataFrame, as before the lean
path existed. Both then pass the schema and drift checks of ``load(...).predict``. The request
model is also what ``/openapi.json`` publishes: a field per input column, optional where the
model takes a missing value, categories as an ``enum``.

No ``from __future__ import annotations`` here: pydantic reads the request model, made at run
time from the model card, from annotations.
"""

import datetime as dt
import json
import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict,
                      ValidationError, WithJsonSchema, create_model)

from .columns import EPOCH_SECONDS_LIMIT, ColumnInfo, coerce_column
from .errors import DataError, did_you_mean
from .limits import SERVE_MAX_ROWS
from .predictor import INT_CELL_LIMIT, Predictor

MAX_DETAILS = 100  # errors listed in a 422's detail; the rest are counted
WRAP = '{"rows": [{column: value, ...}, ...]}'


def _date_cell(value: Any) -> Any:
    """A datetime cell: text is checked here as pandas will read it (so "2024" is the year, as
    ``load(...).predict`` reads it, not 2024 seconds after 1970); a number is seconds since the
    epoch, which the model's input check reads the same way."""
    if isinstance(value, str):
        try:  # the usual ISO text, at a fraction of pandas' cost per cell
            dt.datetime.fromisoformat(value)
            return value
        except ValueError:
            pass
        try:  # the parser load(...).predict uses, so both read the cell alike
            coerce_column(pd.Series([value], dtype=object), ColumnInfo("cell", "cell", "datetime"))
        except DataError:
            raise ValueError("needs a date or datetime (2024-01-31, 2024-01-31T08:00:00) or "
                             "seconds since the epoch") from None
    return value


def _number_cell(value: Any) -> Any:
    """pydantic's lax mode reads ``true`` as 1: in a number column it is a client's mistake."""
    if isinstance(value, bool):
        raise ValueError("needs a number, not true or false")
    return value


# The JSON a column's present cells may hold, by column kind.
_CELL_TYPES: dict[str, Any] = {
    "numeric": Annotated[float, BeforeValidator(_number_cell)],
    # within what the graph's int64 holds, by bounds that JSON numbers written as floats keep
    # exactly (2**63 itself prints as 9223372036854775808 or 9.223372036854776e18)
    "integer": Annotated[int, Field(ge=-INT_CELL_LIMIT, le=INT_CELL_LIMIT),
                         BeforeValidator(_number_cell)],
    "boolean": bool,
    "datetime": Annotated[
        Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
        | Annotated[float, Strict(), Field(ge=-EPOCH_SECONDS_LIMIT, le=EPOCH_SECONDS_LIMIT)],
        AfterValidator(_date_cell)],
    "categorical": str | bool | int | float,
    "text": str,
}
# Why a null is refused where the model cannot take it.
_NO_GAP = {kind: (f"missing, but the model takes {what} here (an int64 input, which holds no "
                  "missing value) and has no fill value for it, since training had no gaps in "
                  f"this column: send {send}, or refit on data with gaps in it")
           for kind, what, send in (("integer", "whole numbers", "a number"),
                                    ("boolean", "true or false", "true or false"))}
_NO_GAP["strict"] = ("missing, and training had no missing values in this column (strict mode "
                     "refuses them)")


class Prediction(BaseModel):
    """Labels (classification) or values (regression), one per row, in request order."""

    predictions: list[str | int | float | bool | None]  # None: a non-finite value
    probabilities: list[list[float]] | None = Field(
        None, description="per row, one probability per class in the order of `classes`")
    classes: list[str | int | float | bool] | None = None
    ids: list[str | int | float | bool | None] | None = Field(
        None, description="each row's --id-column value, in request order (served with "
        "--id-column only)")


class Refusal(Exception):
    """An answer other than 200 (status, message, details), raised while reading a request."""

    def __init__(self, status: int, message: str, details: list | None = None, kind: str = ""):
        super().__init__(message)
        self.status, self.message = status, message
        self.details = details or [{"loc": ["body"], "msg": message, "type": kind}]


def _refuse_missing(reason: str):
    def refuse(value: Any) -> Any:
        if value is None:
            raise ValueError(reason)
        return value

    return BeforeValidator(refuse)


def _categories(predictor: Predictor, column: ColumnInfo) -> list[str]:
    """The training categories of a column, from the schema's category set (complete; the
    card keeps the 50 most frequent only); none when the schema has no set for it."""
    schema = predictor.schema
    if column.kind != "categorical" or schema is None or column.name not in schema.columns:
        return []
    for check in schema.columns[column.name].checks:
        allowed = (check.statistics or {}).get("allowed_values")
        if allowed is not None:
            return sorted(str(value) for value in allowed)
    return []


def _cell(predictor: Predictor, column: ColumnInfo) -> tuple[Any, Any]:
    """A column's request field: its type and its ``Field`` (optional where the model takes a
    missing value; the categories as an enum)."""
    kind, optional = _CELL_TYPES[column.kind], predictor.takes_missing(column)
    if optional:
        kind = kind | None
    else:
        reason = _NO_GAP.get(column.kind, _NO_GAP["strict"])
        kind = Annotated[kind, _refuse_missing(reason)]
    seen = _categories(predictor, column)
    if seen:  # anything else is scored as a category never seen (strict mode refuses it)
        other = [] if predictor.strict else [{"type": t} for t in ("string", "boolean", "number")]
        options = [{"enum": seen}, *other, *([{"type": "null"}] if optional else [])]
        kind = Annotated[kind, WithJsonSchema(options[0] if len(options) == 1
                                              else {"anyOf": options})]
    extra = {"default": None} if optional else {}
    return kind, Field(alias=column.name, description=_describe(column, optional), **extra)


def _describe(column: ColumnInfo, optional: bool) -> str:
    if column.kind == "categorical" and column.categories:
        shown = ", ".join(c for c in column.categories[:10] if c)
        text = f"categorical; seen in training: {shown}"
    elif column.kind == "datetime":
        text = "datetime: ISO 8601 text, or seconds since the epoch"
        if column.minimum is not None:
            text += f"; training range {_date(column.minimum)} to {_date(column.maximum)}"
    elif column.minimum is not None:
        text = f"{column.kind}; training range {column.minimum:g} to {column.maximum:g}"
    else:
        text = column.kind
    return text + ("; may be null or left out (scored with the model's fill value)"
                   if optional else "")


def request_model(predictor: Predictor, max_rows: int = SERVE_MAX_ROWS,
                  id_column: str | None = None) -> type[BaseModel]:
    """The request body: ``rows``, each with a field per raw input column (and the id)."""
    fields: dict[str, Any] = {f"c{i}": _cell(predictor, column)
                              for i, column in enumerate(predictor.columns)}
    if id_column is not None and id_column not in {c.name for c in predictor.columns}:
        fields["row_id"] = (str | int, Field(alias=id_column, description=(
            "the row's id, echoed in the answer's `ids`")))
    row = create_model("Row", __config__=ConfigDict(extra="forbid", populate_by_name=False),
                       **fields)
    return create_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"),
        rows=(list[row], Field(min_length=1, max_length=max_rows,
                               description="rows to score (one or a batch)")))


class Scorer:
    """What ``POST /predict`` does with a body: parse, read the rows (lean when they are
    plain, else through the request model), score, and encode the answer."""

    def __init__(self, predictor: Predictor, max_rows: int, id_column: str | None):
        self.predictor, self.max_rows, self.id_column = predictor, max_rows, id_column
        self.model = request_model(predictor, max_rows, id_column)
        self.names = [c.name for c in predictor.columns]
        self.classes = list(predictor.classes)

    def answer(self, body: bytes) -> bytes:
        data = _parse(body)
        rows = self._plain_rows(data)
        self._check_keys(rows if rows is not None else _dict_rows(data))
        typed = None if rows is None else self.predictor.typed_records(rows)
        if typed is None or not self._plain_ids(rows):
            typed, rows = self._validated(data), data["rows"]
        ids = None if self.id_column is None else [row.get(self.id_column) for row in rows]
        try:
            out = self.predictor.outputs(typed)
        except DataError as exc:  # drift with strict, values the schema refuses
            raise _refused(exc) from None
        return self._encode(out, ids)

    def _plain_rows(self, data: Any) -> list | None:
        """The rows of a body of the usual shape, else None; a bare row or list, a hint."""
        if isinstance(data, list) or (isinstance(data, dict) and "rows" not in data and (
                data.keys() & {*self.names, self.id_column})):
            what = "a list" if isinstance(data, list) else "a bare row"
            message = f"The body must be {WRAP}; this one is {what}: wrap rows as " \
                      '{"rows": [...]}.'
            raise Refusal(422, message, kind="rows_not_wrapped")
        rows = data.get("rows") if isinstance(data, dict) and len(data) == 1 else None
        if type(rows) is list and 0 < len(rows) <= self.max_rows and all(
                type(row) is dict for row in rows):
            return rows
        return None

    def _plain_ids(self, rows: list) -> bool:
        """Each row's id is a string or an integer (an input column's, its reader checked)."""
        return self.id_column is None or self.id_column in self.names or all(
            type(row.get(self.id_column)) in (str, int) for row in rows)

    def _check_keys(self, rows: list) -> None:
        """A key that is no input of the model (nor the id column) is refused, with the
        closest input's name: a misspelled column left out would be scored with its fill."""
        known = {*self.names, self.id_column}
        unknown = [(i, key) for i, row in enumerate(rows) for key in row.keys() - known]
        if not unknown:
            return
        details = [{"loc": ["body", "rows", i, key], "type": "unknown_column",
                    "msg": f"not an input of the model{did_you_mean(key, self.names)}"}
                   for i, key in unknown[:20]]
        i, key = unknown[0]
        raise Refusal(422, f"rows[{i}] has {key!r}, which is not an input of the model"
                      f"{did_you_mean(key, self.names)} ({len(unknown)} such key(s) in all; "
                      "/openapi.json lists the inputs).", details)

    def _validated(self, data: Any) -> dict[str, np.ndarray]:
        """The typed inputs by the slow path: the request model names every bad cell."""
        try:
            body = self.model.model_validate(data)
        except ValidationError as exc:
            raise _invalid(exc.errors()) from None
        frame = pd.DataFrame([row.model_dump(by_alias=True) for row in body.rows],
                             columns=self.names)
        try:
            return self.predictor.typed(frame)
        except DataError as exc:  # values of the right JSON type the model cannot read
            raise _refused(exc) from None

    def _encode(self, out: dict[str, np.ndarray], ids: list | None) -> bytes:
        if self.predictor.task == "regression":
            answer = {"predictions": _finite(out["value"].ravel().tolist()),
                      "probabilities": None, "classes": None}
        else:
            proba = out["probabilities"]
            answer = {"predictions": [self.classes[i] for i in proba.argmax(axis=1).tolist()],
                      "probabilities": proba.tolist() if np.isfinite(proba).all() else [
                          _finite(row) for row in proba.tolist()],
                      "classes": self.classes}
        if ids is not None:
            answer["ids"] = ids
        return json.dumps(answer, separators=(",", ":"), allow_nan=False).encode()


def _dict_rows(data: Any) -> list:
    """The rows of a body that are JSON objects (the request model refuses the rest)."""
    rows = data.get("rows") if isinstance(data, dict) else None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _refused(exc: DataError) -> Refusal:
    """A 422 with the message ``load(...).predict`` raises for the same rows."""
    return Refusal(422, str(exc), [{"loc": ["body", "rows"], "msg": str(exc),
                                    "type": "data_error"}])


def _finite(values: list) -> list:
    return [v if math.isfinite(v) else None for v in values]


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        message = (f"request body is not valid JSON (at character {exc.pos}: {exc.msg}); send "
                   f"{WRAP}")
        raise Refusal(400, message, [{"loc": ["body", exc.pos], "msg": message,
                                      "type": "json_invalid"}]) from None
    except UnicodeDecodeError as exc:
        raise Refusal(400, f"request body could not be read (not UTF-8 text: {exc.reason} at "
                      f"byte {exc.start}); send {WRAP}", kind="body_unreadable") from None
    except RecursionError:
        raise Refusal(400, f"request body could not be read (JSON nested too deep); send {WRAP}",
                      kind="body_unreadable") from None


def _invalid(errors: list[dict]) -> Refusal:
    """The request model's errors as one 422: the first 10 in the message, 100 in detail."""
    details = [{"loc": ["body", *e.get("loc", ())], "msg": e.get("msg", ""),
                "type": e.get("type", "")} for e in errors]
    message = "; ".join(f"{_where(d['loc'])}: {d['msg']}" for d in details[:10])
    if len(details) > MAX_DETAILS:  # an answer no larger than the request
        details = details[:MAX_DETAILS] + [{
            "loc": ["body", "rows"], "type": "too_many_errors",
            "msg": f"and {len(details) - MAX_DETAILS} more errors like these"}]
    return Refusal(422, message, details)


def _date(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _where(loc: list) -> str:
    """``["body", "rows", 0, "Age"]`` as ``rows[0].Age``."""
    text = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


