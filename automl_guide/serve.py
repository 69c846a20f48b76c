"""``automl-guide serve``: an exported model behind HTTP (FastAPI on uvicorn).

``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}`` (one row or a batch) and answers
the predictions of the ONNX graph, exactly as :meth:`automl_guide.Predictor.predict` would. The
request body is described column by column from the model card, so the OpenAPI document at
``/openapi.json`` says what each row needs; a row that does not fit gets a 422 naming the row and
the column, a body over the size limit a 413, a body that is not JSON a 415. ``GET /health``
answers while the model is loaded.

Imported only by this command: fastapi and uvicorn stay out of ``import automl_guide``. No
``from __future__ import annotations`` here: FastAPI reads the request model, made at run time from
the model card, from the endpoint's annotations.
"""

import datetime as dt
import errno
import math
import socket
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict,
                      WithJsonSchema, create_model)
from starlette.exceptions import HTTPException as StarletteHTTPException

from .columns import EPOCH_SECONDS_LIMIT, ColumnInfo, coerce_column, python_value
from .errors import DataError
from .limits import SERVE_MAX_BODY_BYTES, SERVE_MAX_ROWS
from .predictor import Predictor, load

MAX_BODY_BYTES, MAX_ROWS = SERVE_MAX_BODY_BYTES, SERVE_MAX_ROWS
MAX_DETAILS = 100  # errors listed in a 422's detail; the rest are counted
INT_CELL_LIMIT = 9_223_372_036_854_000_000  # |integer cell| at most: just inside int64


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


# The JSON a column's cells may hold, by column kind (None where training had missing values).
_CELL_TYPES: dict[str, Any] = {
    "numeric": Annotated[float | None, BeforeValidator(_number_cell)],
    # within what the graph's int64 holds, by bounds that JSON numbers written as floats keep
    # exactly (2**63 itself prints as 9223372036854775808 or 9.223372036854776e18)
    "integer": Annotated[int, Field(ge=-INT_CELL_LIMIT, le=INT_CELL_LIMIT),
                         BeforeValidator(_number_cell)],
    "boolean": bool,
    "datetime": Annotated[
        Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
        | Annotated[float, Strict(), Field(ge=-EPOCH_SECONDS_LIMIT, le=EPOCH_SECONDS_LIMIT)]
        | None,
        AfterValidator(_date_cell)],
    "categorical": str | bool | int | float | None,
    "text": str | None,
}


class Prediction(BaseModel):
    """Labels (classification) or values (regression), one per row, in request order."""

    predictions: list[str | int | float | bool | None]  # None: a non-finite value
    probabilities: list[list[float]] | None = Field(
        None, description="per row, one probability per class in the order of `classes`")
    classes: list[str | int | float | bool] | None = None


class Health(BaseModel):
    status: str
    task: str
    target: str
    inputs: int


def _row_model(predictor: Predictor) -> type[BaseModel]:
    """One request row: a field per raw input column, under its original name."""
    fields: dict[str, Any] = {}
    for i, column in enumerate(predictor.columns):
        kind = _CELL_TYPES[column.kind]
        if column.kind == "categorical" and column.categories:
            description = f"categorical; seen in training: {', '.join(column.categories[:10])}"
        elif column.kind == "datetime":
            description = "datetime: ISO 8601 text, or seconds since the epoch"
            if column.minimum is not None:
                description += (f"; training range {_date(column.minimum)} to "
                                f"{_date(column.maximum)}")
        elif column.minimum is not None:
            description = f"{column.kind}; training range {column.minimum:g} to {column.maximum:g}"
        else:
            description = column.kind
        fields[f"c{i}"] = (kind, Field(alias=column.name, description=description))
    config = ConfigDict(extra="ignore", populate_by_name=False)
    return create_model("Row", __config__=config, **fields)


def create_app(model: str | Path | Predictor, *, max_body_bytes: int = MAX_BODY_BYTES,
               max_rows: int = MAX_ROWS, strict: bool = False) -> Any:
    """The ASGI application for ``model`` (a run directory, a ``.onnx`` file or a loaded
    :class:`~automl_guide.Predictor`). ``strict`` refuses rows with categories or ranges unseen
    in training, as ``automl-guide predict --strict`` does."""
    predictor = model if isinstance(model, Predictor) else load(model, strict=strict)
    row_model = _row_model(predictor)
    request_model = create_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"),
        rows=(list[row_model], Field(min_length=1, max_length=max_rows,
                                     description="rows to score (one or a batch)")))
    card = predictor.card
    app = FastAPI(title=f"automl-guide model: {card['target']} ({card['task']})",
                  version=str(card.get("created", "")),
                  description="Scores rows with the exported ONNX model (onnxruntime).")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": _message(e), "type": e.get("type", "")}
                   for e in exc.errors()]
        message = "; ".join(d["msg"] if d["type"] == "json_invalid" else
                            f"{_where(d['loc'])}: {d['msg']}" for d in details[:10])
        if len(details) > MAX_DETAILS:  # an answer no larger than the request
            details = details[:MAX_DETAILS] + [{
                "loc": ["body", "rows"], "type": "too_many_errors",
                "msg": f"and {len(details) - MAX_DETAILS} more errors like these"}]
        return _error(422, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _unreadable(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code == 400:  # JSON that json.loads gives up on (nested too deep)
            return _error(422, f"request body could not be read ({exc.detail}): send "
                          '{"rows": [{column: value, ...}, ...]}',
                          [{"loc": ["body"], "msg": str(exc.detail), "type": "body_unreadable"}])
        return await http_exception_handler(request, exc)  # 404, 405: FastAPI's own answer

    @app.get("/health", response_model=Health)
    def health() -> Health:
        return Health(status="ok", task=predictor.task, target=card["target"],
                      inputs=len(predictor.columns))

    @app.post("/predict", response_model=Prediction, responses={
        413: {"description": f"body over {max_body_bytes} bytes"},
        415: {"description": "body not sent as JSON (Content-Type: application/json)"},
        422: {"description": "rows that do not fit the model's inputs"}})
    def predict(body: request_model) -> Any:  # type: ignore[valid-type]
        names = [c.name for c in predictor.columns]
        frame = pd.DataFrame([row.model_dump(by_alias=True) for row in body.rows],
                             columns=names)
        try:
            out = predictor.predict_frame(frame)
        except DataError as exc:
            return _error(422, str(exc), [{"loc": ["body", "rows"], "msg": str(exc),
                                           "type": "data_error"}])
        labels = [_json_value(v) for v in out["prediction"]]
        if predictor.task == "regression":
            return Prediction(predictions=labels)
        proba = out[[f"proba_{c}" for c in predictor.classes]].to_numpy().tolist()
        return Prediction(predictions=labels, probabilities=proba,
                          classes=[_json_value(c) for c in predictor.classes])

    return _RequestGuard(app, max_body_bytes)


def _date(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _where(loc: list) -> str:
    """``["body", "rows", 0, "Age"]`` as ``rows[0].Age``."""
    text = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _message(error: dict) -> str:
    if error.get("type") == "json_invalid":  # loc holds the character position
        position = error.get("loc", ("body", "?"))[-1]
        reason = error.get("ctx", {}).get("error", "")
        return f"request body is not valid JSON (at character {position}: {reason})"
    return error.get("msg", "")


def _error(status: int, message: str, details: list) -> JSONResponse:
    return JSONResponse({"message": message, "detail": details}, status_code=status)


def _json_value(value: Any) -> Any:
    """numpy scalars as JSON values (a non-finite number as None)."""
    value = python_value(value)
    return None if isinstance(value, float) and not math.isfinite(value) else value


class _RequestGuard:
    """ASGI wrapper: a request body over ``limit`` bytes gets a 413 before any parsing, whether
    the client declared its length or streamed it in chunks; a body sent as anything but JSON
    (curl's ``-d`` without a header sends a form) gets a 415 that says which header to send."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if (scope["path"] == "/predict" and media != b"application/json"
                and not media.endswith(b"+json")):
            shown = media.decode("latin-1") or "none"
            message = (f"The body must be JSON, sent with Content-Type: application/json (this "
                       f"request's Content-Type: {shown}); with curl, add "
                       "-H 'content-type: application/json'.")
            return await _error(415, message, [{"loc": ["header", "content-type"], "msg": message,
                                                "type": "unsupported_media_type"}])(
                scope, receive, send)
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await self._refuse(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                return await self._refuse(scope, receive, send)
            more = message.get("more_body", False)
        replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def again() -> dict:
            return replay.pop() if replay else await receive()

        await self.app(scope, again, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any) -> None:
        message = f"Request body over the limit of {self.limit} bytes; send fewer rows."
        await _error(413, message, [{"loc": ["body"], "msg": message, "type": "too_large"}])(
            scope, receive, send)

    def __getattr__(self, name: str) -> Any:  # app.openapi() and friends, for tests and tools
        return getattr(self.app, name)


def serve(model: str | Path | Predictor, host: str = "127.0.0.1", port: int = 8000, *,
          max_body_bytes: int = MAX_BODY_BYTES, max_rows: int = MAX_ROWS,
          strict: bool = False) -> None:
    """Run the scoring service until interrupted."""
    import uvicorn

    app = create_app(model, max_body_bytes=max_body_bytes, max_rows=max_rows, strict=strict)
    _check_free(host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")


def _check_free(host: str, port: int) -> None:
    """A port another process holds, in one line (uvicorn would log it and exit with status 3)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = ("another service may hold the port; pick another with --port"
                   if exc.errno == errno.EADDRINUSE else "check --host and --port")
            raise OSError(exc.errno, f"cannot listen on {host}:{port} ({exc.strerror}): "
                          f"{why}") from None
