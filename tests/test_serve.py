"""``automl-guide serve``, as a service's client sees it: real HTTP on loopback, answers equal to
``automl-guide predict``, precise 4xx for bad requests, and a property-based test generated from
the service's own OpenAPI description."""
from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from conftest import shop_frame

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory, ray_session):
    """One small finished run (binary, two families) served by the tests here."""
    from automl_guide import fit_and_export

    out = tmp_path_factory.mktemp("fitted") / "run"
    fit_and_export(shop_frame(300, "binary"), "bought", models=["linear", "decision_tree"],
                   max_trials=3, time_budget=None, out=out, quiet=True)
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serving(run: Path, *options: str):
    """`automl-guide serve RUN` in its own process; yields its URL once /health answers."""
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "automl-guide"), "serve", str(run), "--port", str(port), *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the service did not start:\n{process.stdout.read()}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def service(fitted_run):
    with _serving(fitted_run, "--max-body-bytes", "200000", "--max-rows", "500") as url:
        yield url


def test_serve_strict_refuses_drift_with_a_422_that_the_default_accepts(service, fitted_run):
    """A category never seen in training and a price beyond the training range: the default
    service scores the rows, `serve --strict` answers 422 naming the column and the rows."""
    rows = shop_frame(3, "binary", seed=5).drop(columns=["bought"])
    rows["last_seen"] = rows["last_seen"].astype(str)
    rows.loc[1, "category"] = "umbrella"
    rows.loc[2, "price"] = 1e6
    payload = {"rows": _rows(rows)}
    accepted = httpx.post(f"{service}/predict", json=payload, timeout=30)
    assert accepted.status_code == 200 and len(accepted.json()["predictions"]) == 3
    with _serving(fitted_run, "--strict") as strict:
        refused = httpx.post(f"{strict}/predict", json=payload, timeout=30)
        assert refused.status_code == 422, refused.text
        message = refused.json()["message"]
        assert message.startswith("The input differs from the training data (strict mode)")
        assert "'category': 1 row(s) with categories unseen in training ('umbrella'): row 1" \
            in message, message
        assert re.search(r"'price': 1 row\(s\) outside the training range \[.*\] \(e\.g\. "
                         r"1e\+06\): row 2", message), message
        clean = _rows(shop_frame(3, "binary", seed=5).drop(columns=["bought"]).assign(
            last_seen=lambda f: f["last_seen"].astype(str)))
        assert httpx.post(f"{strict}/predict", json={"rows": clean}, timeout=30).status_code \
            == 200


def _rows(frame: pd.DataFrame) -> list[dict]:
    """Rows as a client would send them: JSON, missing values as null."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def test_served_predictions_equal_the_predict_command(service, fitted_run, tmp_path):
    rows = shop_frame(60, "binary", seed=5).drop(columns=["bought"])
    rows["last_seen"] = rows["last_seen"].astype(str)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    done = subprocess.run([str(BIN / "automl-guide"), "predict", str(fitted_run),
                           str(tmp_path / "rows.csv")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(pd.io.common.StringIO(done.stdout))

    answer = httpx.post(f"{service}/predict", json={"rows": _rows(rows)}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == expected["prediction"].tolist()
    assert body["classes"] == ["no", "yes"]
    proba = np.array(body["probabilities"])
    assert np.allclose(proba, expected[["proba_no", "proba_yes"]].to_numpy(), atol=1e-6)

    one = httpx.post(f"{service}/predict", json={"rows": _rows(rows.head(1))}, timeout=30)
    assert one.status_code == 200 and one.json()["predictions"] == body["predictions"][:1]

    # a date read the same way on both paths: "2024" is the year, a number epoch seconds
    from automl_guide import DriftWarning, load

    model = load(fitted_run)
    for when in ("2024", 1725418800, "2024-09-04T03:00:00"):
        row = rows.head(1).assign(last_seen=[when])
        served = httpx.post(f"{service}/predict", json={"rows": _rows(row)}, timeout=30).json()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DriftWarning)  # "2024" is before the training dates
            local = model.predict_proba(row)
        assert np.allclose(served["probabilities"], local, atol=1e-6), when
    same = [model.predict_proba(rows.head(1).assign(last_seen=[when]))
            for when in (1725418800, "2024-09-04T03:00:00+00:00")]
    np.testing.assert_array_equal(*same)


def test_health_names_the_model(service):
    answer = httpx.get(f"{service}/health", timeout=10)
    assert answer.json() == {"status": "ok", "task": "binary", "target": "bought", "inputs": 6}


@pytest.mark.parametrize("payload, status, named", [
    ({"rows": [{"price": 1.0, "member": True, "category": "dress", "city": "c",
                "last_seen": "2024-01-01"}]}, 422, "rows[0].visits: Field required"),
    ({"rows": [{"price": "cheap", "visits": 1, "member": True, "category": "dress",
                "city": "c", "last_seen": "2024-01-01"}]}, 422, "rows[0].price"),
    ({"rows": [{"price": 1.0, "visits": 1, "member": True, "category": "dress",
                "city": "c", "last_seen": "yesterday"}]}, 422, "rows[0].last_seen"),
    ({"rows": [{"price": 1.0, "visits": 1, "member": True, "category": "dress",
                "city": "c", "last_seen": True}]}, 422, "rows[0].last_seen"),
    ({"rows": [{"price": 1.0, "visits": True, "member": True, "category": "dress",
                "city": "c", "last_seen": "2024-01-01"}]}, 422,
     "rows[0].visits: Value error, needs a number, not true or false"),
    ({"rows": [{"price": 1.0, "visits": 2**63, "member": True, "category": "dress",
                "city": "c", "last_seen": "2024-01-01"}]}, 422,
     "rows[0].visits: Input should be less than or equal to 9223372036854000000"),
    ({"rows": []}, 422, "rows: List should have at least 1 item"),
    ({"rows": [{}] * 501}, 422, "rows: List should have at most 500 items"),
    ({"data": []}, 422, "rows: Field required"),
    (b'{"rows": [', 422, "not valid JSON"),
    (b'{"rows": ' + b'[' * 50_000 + b']' * 50_000 + b'}', 422, "request body could not be read"),
    (b'{"rows": [' + b'{"price": 1.0},' * 20000 + b'{}]}', 413, "over the limit of 200000"),
])
def test_bad_requests_get_a_4xx_naming_the_problem(service, payload, status, named):
    if isinstance(payload, bytes):
        answer = httpx.post(f"{service}/predict", content=payload,
                            headers={"content-type": "application/json"}, timeout=30)
    else:
        answer = httpx.post(f"{service}/predict", json=payload, timeout=30)
    assert answer.status_code == status, answer.text
    assert named in answer.json()["message"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_gets_a_415_naming_the_header(service, content_type):
    """``curl -d @rows.json`` without a header sends a form: the answer says what to add."""
    body = json.dumps({"rows": [{"price": 1.0, "visits": 1}]}).encode()
    answer = httpx.post(f"{service}/predict", content=body, timeout=30,
                        headers={"content-type": content_type} if content_type else {})
    assert answer.status_code == 415, answer.text
    assert answer.json()["message"] == (
        "The body must be JSON, sent with Content-Type: application/json (this request's "
        f"Content-Type: {content_type or 'none'}); with curl, add -H 'content-type: "
        "application/json'.")
    charset = httpx.post(f"{service}/predict", content=body, timeout=30,
                         headers={"content-type": "application/json; charset=utf-8"})
    assert charset.status_code == 422  # read as JSON: the row lacks columns


def test_a_port_in_use_is_an_error_in_one_line(fitted_run, capsys):
    from automl_guide.cli import main

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["serve", str(fitted_run), "--port", str(port)]) == 2
    said = capsys.readouterr()
    [line] = said.err.splitlines()  # one line: not uvicorn's log, not its exit status 3
    assert re.fullmatch(rf"automl-guide: error: \[Errno \d+\] cannot listen on 127\.0\.0\.1:"
                        rf"{port} \(Address already in use\): another service may hold the "
                        r"port; pick another with --port", line), line


def test_a_request_of_many_bad_rows_gets_an_answer_of_bounded_size(service):
    answer = httpx.post(f"{service}/predict", json={"rows": [{}] * 400}, timeout=30)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert len(detail) == 101 and detail[0]["msg"] == "Field required"
    assert detail[-1] == {"loc": ["body", "rows"], "type": "too_many_errors",
                          "msg": "and 2300 more errors like these"}  # 400 rows x 6 columns
    more = httpx.post(f"{service}/predict", json={"rows": [{}] * 480}, timeout=30)
    assert more.json()["detail"][-1]["msg"] == "and 2780 more errors like these"
    assert len(more.content) == len(answer.content)  # more bad rows, an answer no longer


def test_a_streamed_body_over_the_limit_is_refused(service):
    def chunks():
        yield b'{"rows": ['
        for _ in range(10000):  # about 290 kB, over the 200 kB limit
            yield b'{"price": 1.0, "visits": 2},'
        yield b'{}]}'

    answer = httpx.post(f"{service}/predict", content=chunks(),
                        headers={"content-type": "application/json"}, timeout=30)
    assert answer.status_code == 413


def test_the_service_keeps_its_openapi_contract(service):
    """Generated from the service's own OpenAPI: no request the schema allows makes it fail, and
    every answer matches the documented response (status codes and bodies)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{service}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {("POST", "/predict"),
                                                                   ("GET", "/health")}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def keeps_contract(case):
            case.call_and_validate()

        keeps_contract()
