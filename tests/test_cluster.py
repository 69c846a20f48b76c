"""A real multi-node Ray cluster on this machine: trials spread over the nodes, the export is
right. Runs in a subprocess so that its cluster and the test session's Ray never meet."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from automl_guide import load

from conftest import shop_frame


@pytest.mark.slow
def test_fit_on_a_three_node_cluster_spreads_trials_and_exports(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    script = Path(__file__).with_name("cluster_fit.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["cluster_nodes"]) == 3
    assert set(report["trial_nodes"]) == set(report["cluster_nodes"]), report
    assert report["statuses"] == ["ok"] and report["trials"] == 9 and report["parity"]
    rows = shop_frame(40, "binary", seed=9).drop(columns=["bought"])
    assert set(load(tmp_path / "run").predict(rows)) <= {"yes", "no"}
