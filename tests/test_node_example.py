"""examples/node: the exported graph scored from Node.js (onnxruntime-node) answers as Python."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_guide import fit_and_export, load

from conftest import TARGETS, shop_frame

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = [
    pytest.mark.skipif(NODE is None or NPM is None,
                       reason="examples/node needs node and npm on PATH; not found"),
    pytest.mark.filterwarnings("ignore::automl_guide.DriftWarning"),
]

# Values in the forms JSON clients send them: nulls, a missing key, strings for numbers and
# booleans, datetimes with an offset, with a space, without a time; an unseen category.
EDGE_ROWS = [
    {"price": None, "visits": 3, "member": True, "category": None, "city": "city_1",
     "last_seen": "2024-03-05T13:00:00+02:00"},
    {"visits": "7", "member": "yes", "category": "dress", "city": "nowhere",
     "last_seen": "2024-06-30 23:59:59.750"},
    {"price": "12.5", "visits": 0, "member": "No", "category": "hat", "city": None,
     "last_seen": "2024-01-01"},
    {"price": 55.0, "visits": 19, "member": False, "category": "shoes", "city": "city_59",
     "last_seen": None},
]


@pytest.fixture(scope="module")
def node_example() -> Path:
    if not (EXAMPLE / "node_modules").is_dir():
        # --ignore-scripts: the package's install script downloads from outside; the CPU build
        # bundled in the package is all we need.
        done = subprocess.run([NPM, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                              cwd=EXAMPLE, timeout=900, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"npm ci --ignore-scripts failed in {EXAMPLE}:\n{done.stderr[-2000:]}")
    return EXAMPLE


@pytest.fixture(scope="module")
def runs(ray_session, tmp_path_factory) -> dict[str, Path]:
    """One cheap linear model per task, fitted once for the module."""
    fitted = {}
    for task in ("binary", "regression"):
        out = tmp_path_factory.mktemp(task) / "run"
        fit_and_export(shop_frame(150, task), TARGETS[task], models=["linear"], max_trials=1,
                       time_budget=None, validation="holdout", out=out, quiet=True)
        fitted[task] = out
    return fitted


def as_json_rows(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as a JSON client sends them: null for NaN/None, ISO datetimes."""
    def plain(value):
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value.item() if isinstance(value, np.generic) else value

    records = frame.astype(object).to_dict("records")
    return [{k: plain(v) for k, v in row.items()} for row in records]


def score_with_node(example: Path, run: Path, rows: object, tmp_path: Path
                    ) -> subprocess.CompletedProcess:
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(rows))
    return subprocess.run([NODE, str(example / "score.js"), str(run), str(rows_file)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_node_scores_equal_python(task, node_example, runs, tmp_path):
    frame = shop_frame(40, task, seed=3).drop(columns=[TARGETS[task]])
    frame.loc[[0, 5], "price"] = np.nan
    frame.loc[[1, 5], "category"] = None
    done = score_with_node(node_example, runs[task], as_json_rows(frame) + EDGE_ROWS, tmp_path)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)

    predictor = load(runs[task])
    edge = pd.DataFrame(EDGE_ROWS)  # Python reading the same JSON
    want = np.concatenate([predictor.predict(frame), predictor.predict(edge)])
    if task == "regression":
        assert set(got) == {"value"}
        # rtol: a value over 128 is one float32 step (1.5e-5) from its neighbour; at 0 diff today.
        np.testing.assert_allclose(got["value"], want, rtol=1e-6, atol=1e-5)
        return
    proba = np.concatenate([predictor.predict_proba(frame), predictor.predict_proba(edge)])
    assert got["classes"] == predictor.classes
    assert got["label"] == want.tolist()
    np.testing.assert_allclose(got["probabilities"], proba, rtol=0, atol=1e-5)
    assert len(set(got["label"])) == 2  # both classes occur: the labels are really compared


def test_node_rejects_bad_input_with_exit_code_2(node_example, runs, tmp_path):
    rows = as_json_rows(shop_frame(3, "binary").drop(columns=["bought", "city"]))
    done = score_with_node(node_example, runs["binary"], rows, tmp_path)
    assert done.returncode == 2 and "Missing column(s) \"city\"" in done.stderr, done.stderr

    done = score_with_node(node_example, runs["binary"], [{**EDGE_ROWS[0], "visits": None}],
                           tmp_path)
    assert done.returncode == 2 and "\"visits\" needs whole numbers" in done.stderr, done.stderr

    done = subprocess.run([NODE, str(node_example / "score.js"), str(runs["binary"]),
                           str(tmp_path / "absent.json")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "Cannot read rows file" in done.stderr, done.stderr
