"""``automl-guide serve``: an exported model behind HTTP (FastAPI on uvicorn).

``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}`` (one row or a batch) and answers
the predictions of the ONNX graph, exactly as :meth:`automl_guide.Predictor.predict` would. The
request body is described column by column from the model card, so the OpenAPI document at
``/openapi.json`` says what each row needs (categories as an ``enum``, the columns that may be
missing as optional) and what each error looks like. ``GET /health`` answers while the model is
loaded.

``POST /predict`` is answered in front of FastAPI (:class:`_Front`, which also enforces the body
limits), its body read, checked and scored by :class:`automl_guide.scoring.Scorer`: plain rows
straight into the graph's input arrays, anything else through the request model that names each
row and column at fault; bodies up to ``INLINE_BYTES`` on the event loop (a thread hop costs
more than scoring a row), larger ones in a worker thread. FastAPI answers the rest: ``/health``,
``/openapi.json``, ``/docs``, wrong paths. Every error has one body,
``{"message": ..., "detail": [{"loc", "msg", "type"}, ...]}``: 400 for a body that is not JSON,
413 for one over the size limit, 415 for one not sent as JSON, 422 for rows the model cannot
take, 404 and 405 for a wrong path or method. Every answer carries ``X-Request-ID`` (the
client's, or a new one) and ``Server-Timing: app;dur=<ms>``, the application's own time.

Imported only by this command: fastapi and uvicorn stay out of ``import automl_guide``. No
``from __future__ import annotations`` here: FastAPI reads the endpoint's annotations.
"""

import errno
import json
import logging
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .limits import SERVE_MAX_BODY_BYTES, SERVE_MAX_ROWS
from .predictor import Predictor, load
from .scoring import Prediction, Refusal, Scorer

MAX_BODY_BYTES, MAX_ROWS = SERVE_MAX_BODY_BYTES, SERVE_MAX_ROWS
INLINE_BYTES = 32_768  # smaller bodies are scored on the event loop, larger in a thread
ENVIRONMENT = "AUTOML_GUIDE_SERVE"  # the model and options uvicorn's workers read
# onnxruntime threads per request: a row or a batch gains nothing from more, and idle threads
# spinning for work took the CPU from the event loop; --workers N uses more cores
SESSION_THREADS = 1
_REQUEST_ID = re.compile(rb"[\w.:/+=-]{1,128}")


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: one message naming the rows and columns at fault, and details."""

    message: str
    detail: list[ErrorDetail]


class Health(BaseModel):
    status: str
    task: str
    target: str
    inputs: int


def create_app(model: str | Path | Predictor, *, max_body_bytes: int = MAX_BODY_BYTES,
               max_rows: int = MAX_ROWS, strict: bool = False,
               id_column: str | None = None) -> Any:
    """The ASGI application for ``model`` (a run directory, a ``.onnx`` file or a loaded
    :class:`~automl_guide.Predictor`). ``strict`` refuses rows with categories or ranges unseen
    in training, and missing values where training had none, as ``automl-guide predict
    --strict`` does; ``id_column``: each row's value of it comes back in the answer's ``ids``."""
    predictor = model if isinstance(model, Predictor) else load(model, strict, SESSION_THREADS)
    scorer, card = Scorer(predictor, max_rows, id_column), predictor.card
    app = FastAPI(title=f"automl-guide model: {card['target']} ({card['task']})",
                  version=str(card.get("created", "")),
                  description="Scores rows with the exported ONNX model (onnxruntime).")
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="ok", task=predictor.task, target=card["target"],
                      inputs=len(predictor.columns))

    _document_predict(app, scorer.model, max_body_bytes)
    return _Front(app, scorer, max_body_bytes)


def _document_predict(app: FastAPI, request: type[BaseModel], max_body_bytes: int) -> None:
    """``POST /predict`` in the OpenAPI document: :class:`_Front` answers it before FastAPI's
    middleware and routing (30 of the 230 µs a one-row request took in the application), so
    FastAPI has no route for it."""
    make = app.openapi
    errors = {400: "body not valid JSON", 413: f"body over {max_body_bytes} bytes",
              415: "body not sent as JSON (Content-Type: application/json)",
              422: "rows the model cannot take (the message names rows and columns)"}

    def body(name: str, description: str) -> dict:
        return {"description": description, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = make()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in (("PredictRequest", request), ("Prediction", Prediction),
                                ("ErrorBody", ErrorBody)):
                described = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(described.pop("$defs", {}))
                components[name] = described
            schema["paths"]["/predict"] = {"post": {
                "summary": "Predict", "operationId": "predict",
                "description": "Scores one row or a batch, in request order.",
                "requestBody": {"required": True, **body("PredictRequest", "rows to score")},
                "responses": {"200": body("Prediction", "predictions, in row order"), **{
                    str(status): body("ErrorBody", text) for status, text in errors.items()}}}}
        return app.openapi_schema

    app.openapi = openapi


def _wrong_route(status: int, detail: str, method: str, path: str,
                 headers: Any = None) -> JSONResponse:
    message = (f"{detail}: {method} {path}; this service answers POST /predict, GET /health, "
               "GET /openapi.json and GET /docs")
    kind = detail.lower().replace(" ", "_")
    return _error(status, message, [{"loc": ["path"], "msg": message, "type": kind}], headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """404, 405 and the like in the one error body, saying what the service answers."""
    return _wrong_route(exc.status_code, str(exc.detail), request.method, request.url.path,
                        getattr(exc, "headers", None))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return _bug(exc)


def _bug(exc: Exception) -> JSONResponse:
    message = f"internal error ({type(exc).__name__}): a bug; the service's log has its traceback"
    return _error(500, message, [{"loc": [], "msg": message, "type": "internal_error"}])


def _error(status: int, message: str, details: list, headers: Any = None) -> JSONResponse:
    return JSONResponse({"message": message, "detail": details}, status_code=status,
                        headers=headers)


class _Front:
    """The ASGI application in front of FastAPI. It answers ``POST /predict`` itself: a body
    over ``limit`` bytes gets a 413 before any parsing, whether the client declared its length
    or streamed it in chunks; a body sent as anything but JSON (curl's ``-d`` without a header
    sends a form) a 415 that says which header to send; the rest goes to the :class:`Scorer`.
    Everything else goes to FastAPI. Every answer gets ``X-Request-ID`` and ``Server-Timing``
    (see the module's docstring)."""

    def __init__(self, app: Any, scorer: Scorer, limit: int):
        self.app, self.scorer, self.limit = app, scorer, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, headers = time.perf_counter(), dict(scope.get("headers", []))
        given = headers.get(b"x-request-id", b"")
        stamp = [(b"x-request-id", given if _REQUEST_ID.fullmatch(given)
                  else uuid.uuid4().hex.encode())]

        async def stamped(message: dict) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - start) * 1000:.3f}".encode()
                message = {**message, "headers": [*message.get("headers", ()), *stamp,
                                                  (b"server-timing", took)]}
            await send(message)

        if scope["path"] != "/predict":
            return await self.app(scope, receive, stamped)
        if scope["method"] != "POST":
            answer = _wrong_route(405, "Method Not Allowed", scope["method"], "/predict",
                                  {"allow": "POST"})
        else:
            answer = await self._predict(receive, headers)
        if answer is not None:  # None: the client went away
            await answer(scope, receive, stamped)

    async def _predict(self, receive: Any, headers: dict) -> Response | None:
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media != b"application/json" and not media.endswith(b"+json"):
            shown = media.decode("latin-1") or "none"
            message = (f"The body must be JSON, sent with Content-Type: application/json (this "
                       f"request's Content-Type: {shown}); with curl, add "
                       "-H 'content-type: application/json'.")
            return _error(415, message, [{"loc": ["header", "content-type"], "msg": message,
                                          "type": "unsupported_media_type"}])
        declared = headers.get(b"content-length", b"0")
        body = (await self._body(receive) if declared.isdigit() and int(declared) <= self.limit
                else b"")
        if body is None:
            return None
        if len(body) > self.limit or not declared.isdigit() or int(declared) > self.limit:
            message = f"Request body over the limit of {self.limit} bytes; send fewer rows."
            return _error(413, message, [{"loc": ["body"], "msg": message, "type": "too_large"}])
        try:
            answer = (self.scorer.answer(body) if len(body) <= INLINE_BYTES
                      else await run_in_threadpool(self.scorer.answer, body))
        except Refusal as refusal:
            return _error(refusal.status, refusal.message, refusal.details)
        except Exception as exc:  # a bug: the log has it, the client the one error body
            logging.getLogger("uvicorn.error").exception("POST /predict failed")
            return _bug(exc)
        return Response(answer, media_type="application/json")

    async def _body(self, receive: Any) -> bytes | None:
        """The body, read until it passes the limit (then what was read); None on a
        disconnect."""
        body, more = b"", True
        while more and len(body) <= self.limit:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
        return body

    def __getattr__(self, name: str) -> Any:  # app.openapi() and friends, for tests and tools
        return getattr(self.app, name)


def app_from_environment() -> Any:
    """The application of each of uvicorn's worker processes (``serve --workers N``): the
    model and the options come from the environment variable ``AUTOML_GUIDE_SERVE`` (JSON)."""
    settings = json.loads(os.environ[ENVIRONMENT])
    return create_app(settings.pop("model"), **settings)


def serve(model: str | Path | Predictor, host: str = "127.0.0.1", port: int = 8000, *,
          max_body_bytes: int = MAX_BODY_BYTES, max_rows: int = MAX_ROWS,
          strict: bool = False, id_column: str | None = None, workers: int = 1) -> None:
    """Run the scoring service until interrupted; ``workers`` > 1 runs that many processes
    (uvicorn's workers, each with its own onnxruntime session), which needs the model's path."""
    import uvicorn

    settings = {"max_body_bytes": max_body_bytes, "max_rows": max_rows, "strict": strict,
                "id_column": id_column}
    _check_free(host, port)
    if workers == 1:
        uvicorn.run(create_app(model, **settings), host=host, port=port, log_level="info")
        return
    if isinstance(model, Predictor):
        raise ValueError("serve with workers > 1 needs the model's path: each worker loads it")
    os.environ[ENVIRONMENT] = json.dumps({"model": str(Path(model).resolve()), **settings})
    _run_workers(uvicorn.Config(f"{__name__}:app_from_environment", factory=True,
                                workers=workers, host=host, port=port, log_level="info"))


def _run_workers(config: Any) -> None:
    """uvicorn's worker processes (what ``uvicorn.run`` does for ``workers`` > 1), on a listening
    socket declared TCP: uvicorn binds it with protocol 0, which accepted connections inherit,
    and asyncio then leaves Nagle's algorithm on, so each keep-alive request after the first
    waited some 40 ms for a delayed ACK (uvicorn issue #3149; measured here: 21 requests/s)."""
    from uvicorn.supervisors import Multiprocess

    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    listener.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[listener]).run()
    except KeyboardInterrupt:  # as uvicorn.run: Ctrl-C ends the service quietly
        pass


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
