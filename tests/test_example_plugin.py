"""The example plugin package in examples/mlp_plugin, installed with pip as a user installs
any third-party plugin, then listed and fitted through the command line."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl_guide

from conftest import shop_frame

BIN = Path(sys.executable).parent
EXAMPLE = Path(__file__).parent.parent / "examples" / "mlp_plugin"
MODULE = "automl_guide_mlp"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Where ``pip install ./examples/mlp_plugin`` put the package."""
    tmp = tmp_path_factory.mktemp("mlp_plugin")
    # install from a copy: pip builds in the source tree, and build/ must not land in examples/
    source = shutil.copytree(EXAMPLE, tmp / "source",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(tmp / "site"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    return tmp / "site"


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([str(BIN / "automl-guide"), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_example_plugin_is_listed_with_its_distribution(site):
    listed = _cli(site, "plugins")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[:4] for line in listed.stdout.splitlines()
            if line.startswith("mlp ")]
    assert rows == [["mlp", "model", "automl-guide-mlp", "0.1.0"]]


def test_example_plugin_fits_through_the_cli_and_its_graph_runs_without_it(site, tmp_path):
    data, run = tmp_path / "shop.csv", tmp_path / "run"
    shop_frame(200, "binary").to_csv(data, index=False)
    # a generous budget: on a busy machine Ray's start alone can take half of the default 60 s
    fit = _cli(site, "fit", str(data), "--target", "bought", "--models", "mlp",
               "--max-trials", "2", "--time-budget", "180", "--no-ensemble", "--quiet",
               "--out", str(run))
    assert fit.returncode == 0, fit.stderr
    board = pd.read_csv(run / "leaderboard.csv")
    assert list(board["model"]) == ["mlp"] * 2 and (board["status"] == "ok").all()
    card = json.loads((run / "model_card.json").read_text())
    assert card["best"]["model"] == "mlp"
    assert {"name": "mlp", "kind": "model", "plugin": "mlp",
            "distribution": "automl-guide-mlp", "version": "0.1.0"} in card["plugins"]
    assert card["parity"]["passed"] and card["parity"]["max_abs_diff"] < 1e-5

    # this process cannot import the plugin (it is on the subprocesses' path only), and
    # scores with the graph all the same
    assert importlib.util.find_spec(MODULE) is None
    rows = shop_frame(25, "binary", seed=7).drop(columns=["bought"])
    predictor = automl_guide.load(run)
    proba = predictor.predict_proba(rows)
    assert proba.shape == (25, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(predictor.predict(rows)) <= {"yes", "no"}


def test_example_plugin_passes_its_own_tests_with_the_public_plugin_check(site):
    """The package's tests/ as its author runs them: pytest, the plugin installed, and
    automl_guide.testing.check_model_plugin over its three tasks (no Ray: no search runs)."""
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(EXAMPLE / "tests")], capture_output=True, text=True,
                         timeout=600, env=env, cwd=site)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
