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
    rows = shop_frame(300, "binary", seed=5).drop(columns=["bought"])  # scored in a thread
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
    # plain rows go straight into the graph's inputs; text in a number column ("7") goes
    # through the request model and a DataFrame: both answer the same
    slow = [dict(row, visits=str(row["visits"])) for row in _rows(rows)]
    assert httpx.post(f"{service}/predict", json={"rows": slow}, timeout=30).json() == body

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
    (b'{"rows": [', 400, "request body is not valid JSON (at character 10: Expecting value)"),
    (b'{"rows": ' + b'[' * 50_000 + b']' * 50_000 + b'}', 400,
     "request body could not be read (JSON nested too deep)"),
    (b'{"rows": "\xff"}', 400,
     "request body could not be read (not UTF-8 text: invalid start byte at byte 10)"),
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
    assert detail[-1] == {"loc": ["body", "rows"], "type": "too_many_errors",  # 400 rows x 2
                          "msg": "and 700 more errors like these"}  # columns none may miss
    more = httpx.post(f"{service}/predict", json={"rows": [{}] * 480}, timeout=30)
    assert more.json()["detail"][-1]["msg"] == "and 860 more errors like these"
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


def _sample(n: int = 3, seed: int = 5) -> list[dict]:
    rows = shop_frame(n, "binary", seed=seed).drop(columns=["bought"])
    return _rows(rows.assign(last_seen=rows["last_seen"].astype(str)))


def test_a_gap_where_training_had_none_is_scored_and_refused_with_strict(service, fitted_run):
    """'city' and 'last_seen' had no missing values in training, and the graph fills them (a
    category never seen, the training median date): a row that leaves one out or sends null is
    scored as `load(...).predict` scores it; `--strict` answers 422 naming them. 'visits' (an
    integer: an int64 input, no fill value in the graph) stays a 422 that says why."""
    from automl_guide import DriftWarning, load

    rows = _sample(2)
    del rows[0]["city"]
    rows[1]["last_seen"] = None
    answer = httpx.post(f"{service}/predict", json={"rows": rows}, timeout=30)
    assert answer.status_code == 200, answer.text
    with pytest.warns(DriftWarning, match=r"Predicted with the model's fill value: 'city' as a "
                      r"category never seen, 'last_seen' as the training median date"):
        local = load(fitted_run).predict_proba(pd.DataFrame(rows))
    assert np.allclose(answer.json()["probabilities"], local, atol=1e-6)

    no_visits = dict(rows[1], visits=None, last_seen="2024-05-01")
    refused = httpx.post(f"{service}/predict", json={"rows": [no_visits]}, timeout=30)
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        "rows[0].visits: Value error, missing, but the model takes whole numbers here (an int64 "
        "input, which holds no missing value) and has no fill value for it, since training had "
        "no gaps in this column: send a number, or refit on data with gaps in it")
    with _serving(fitted_run, "--strict") as strict:
        refused = httpx.post(f"{strict}/predict", json={"rows": rows}, timeout=30)
        assert refused.status_code == 422
        assert refused.json()["message"] == (
            "rows[0].city: Field required; rows[1].last_seen: Value error, missing, and "
            "training had no missing values in this column (strict mode refuses them)")
        doc = httpx.get(f"{strict}/openapi.json", timeout=10).json()["components"]["schemas"]
        assert doc["Row"]["properties"]["city"]["enum"][:2] == ["city_0", "city_1"]
        assert doc["Row"]["properties"]["category"]["anyOf"] == [
            {"enum": ["bag", "dress", "hat", "shoes"]}, {"type": "null"}]  # gaps in training


def test_every_error_has_the_same_body(service):
    """404, 405, 400, 422, 413 and 415: {"message": ..., "detail": [{loc, msg, type}]}."""
    post = f"{service}/predict"
    json_header = {"content-type": "application/json"}
    answers = [httpx.get(f"{service}/nope", timeout=10), httpx.get(post, timeout=10),
               httpx.post(post, content=b"{", headers=json_header, timeout=10),
               httpx.post(post, json={"rows": []}, timeout=10),
               httpx.post(post, content=b" " * 300_000, headers=json_header, timeout=10),
               httpx.post(post, content=b"{}", headers={"content-type": "text/plain"},
                          timeout=10)]
    assert [a.status_code for a in answers] == [404, 405, 400, 422, 413, 415]
    for answer in answers:
        body = answer.json()
        assert set(body) == {"message", "detail"} and body["detail"], answer.text
        assert all(set(d) == {"loc", "msg", "type"} for d in body["detail"]), answer.text
    assert answers[0].json()["message"] == (
        "Not Found: GET /nope; this service answers POST /predict, GET /health, GET "
        "/openapi.json and GET /docs")
    assert answers[1].headers["allow"] == "POST"


@pytest.mark.parametrize("shape, what", [("row", "a bare row"), ("list", "a list")])
def test_a_row_not_wrapped_in_rows_gets_one_hint(service, shape, what):
    row = _sample(1)[0]
    answer = httpx.post(f"{service}/predict", json=row if shape == "row" else [row], timeout=30)
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        'The body must be {"rows": [{column: value, ...}, ...]}; this one is ' + what +
        ': wrap rows as {"rows": [...]}.')
    assert len(answer.json()["detail"]) == 1


def test_a_misspelled_column_is_refused_with_the_closest_input_not_filled(service):
    """A column the graph can fill may be left out, so a key the model does not know is
    refused: else a misspelled "categroy" would be scored silently as a missing category."""
    rows = _sample(2)
    rows[1]["categroy"] = rows[1].pop("category")
    answer = httpx.post(f"{service}/predict", json={"rows": rows}, timeout=30)
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"] == (
        "rows[1] has 'categroy', which is not an input of the model (did you mean "
        "'category'?) (1 such key(s) in all; /openapi.json lists the inputs).")
    assert answer.json()["detail"] == [{"loc": ["body", "rows", 1, "categroy"],
                                        "type": "unknown_column",
                                        "msg": "not an input of the model (did you mean "
                                               "'category'?)"}]
    rows[1]["category"] = rows[1].pop("categroy")  # the same rows, spelled right: scored
    assert httpx.post(f"{service}/predict", json={"rows": rows}, timeout=30).status_code == 200


def test_the_openapi_document_has_categories_as_an_enum_and_the_error_bodies(service):
    doc = httpx.get(f"{service}/openapi.json", timeout=10).json()
    row = doc["components"]["schemas"]["Row"]
    # seen in training, or anything else (scored as a category never seen), or missing
    assert row["properties"]["category"]["anyOf"] == [
        {"enum": ["bag", "dress", "hat", "shoes"]}, {"type": "string"}, {"type": "boolean"},
        {"type": "number"}, {"type": "null"}]
    assert len(row["properties"]["city"]["anyOf"][0]["enum"]) == 60
    assert sorted(row["required"]) == ["member", "visits"]  # the columns the graph cannot fill
    responses = doc["paths"]["/predict"]["post"]["responses"]
    for status in ("400", "413", "415", "422"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"}, status
    assert doc["components"]["schemas"]["ErrorBody"]["required"] == ["message", "detail"]


def test_row_ids_and_the_request_id_come_back(fitted_run):
    """`serve --id-column order_id`: each row's id in the answer's ids, in row order; the
    client's X-Request-ID (else a new one) in the answer's headers, with Server-Timing."""
    rows = [dict(row, order_id=i) for row, i in zip(_sample(3), ["o-1", 17, "o-3"])]
    with _serving(fitted_run, "--id-column", "order_id") as url:
        answer = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=30,
                            headers={"x-request-id": "batch-42"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["ids"] == ["o-1", 17, "o-3"]
        assert answer.headers["x-request-id"] == "batch-42"
        assert re.fullmatch(r"app;dur=\d+\.\d{3}", answer.headers["server-timing"])
        fresh = httpx.post(f"{url}/predict", json={"rows": rows[:1]}, timeout=30)
        assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
        del rows[1]["order_id"]
        lacking = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=30)
        assert lacking.status_code == 422
        assert lacking.json()["message"] == "rows[1].order_id: Field required"


def test_two_workers_answer_alike_without_a_delay_on_keep_alive(service, fitted_run):
    """`--workers 2`: uvicorn's worker processes, on a socket declared TCP so that asyncio
    turns Nagle's algorithm off (uvicorn binds it otherwise, and each keep-alive request after
    the first waited ~40 ms for a delayed ACK)."""
    rows = _sample(3)
    expected = httpx.post(f"{service}/predict", json={"rows": rows}, timeout=30).json()
    with _serving(fitted_run, "--workers", "2") as url, httpx.Client(timeout=30) as client:
        took = []
        for _ in range(20):  # one connection, kept alive
            start = time.perf_counter()
            answer = client.post(f"{url}/predict", json={"rows": rows})
            took.append(time.perf_counter() - start)
            assert answer.json() == expected
    assert sorted(took)[10] < 0.03, took


def test_serve_refuses_a_number_of_workers_below_one_by_name(fitted_run, capsys):
    from automl_guide.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["serve", str(fitted_run), "--workers", "0"])
    assert caught.value.code == 2
    assert "argument --workers: '0' is no number of workers: give a whole number of at least " \
        "1" in capsys.readouterr().err
