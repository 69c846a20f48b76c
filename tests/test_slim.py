"""The base install (``pip install automl-guide``, no extras) loads, predicts and serves: those
paths import none of the training libraries, and fitting without them is refused with the
command that adds them. ``make bench-slim`` checks the same in a fresh virtual environment and
prints its size (docs/deployment.md)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from automl_guide import AutoMLGuideError, fit_and_export
from automl_guide.runtime import TRAINING_MODULES
from conftest import shop_frame

# What the `train` extra brings (pyproject.toml), and what those bring: not in the base install.
TRAINING = (*TRAINING_MODULES, "scipy", "cloudpickle")

BLOCKED = textwrap.dedent(f"""
    import sys

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {TRAINING!r}:
                raise ModuleNotFoundError(f"{{name}} is not in the base install", name=name)

    sys.meta_path.insert(0, Blocked())
""")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, ray_session):
    out = tmp_path_factory.mktemp("slim") / "run"
    frame = shop_frame(300, "binary", seed=2)
    fit_and_export(frame, "bought", models=["linear"], max_trials=1, time_budget=None, out=out,
                   quiet=True)
    frame.drop(columns="bought").head(20).to_csv(out.parent / "rows.csv", index=False)
    return out


def _without_training(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED + textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=120)


def test_load_predict_and_serve_import_no_training_library(run_dir):
    import automl_guide

    expected = automl_guide.load(run_dir).predict_proba(
        __import__("pandas").read_csv(run_dir.parent / "rows.csv"))
    done = _without_training("""
        import json, sys
        import pandas as pd
        import automl_guide
        from automl_guide import cli
        from automl_guide.serve import create_app
        from starlette.testclient import TestClient

        run, rows = sys.argv[1], pd.read_csv(sys.argv[2])
        proba = automl_guide.load(run).predict_proba(rows)
        assert cli.main(["predict", run, sys.argv[2], "--out", sys.argv[3]]) == 0
        body = {"rows": json.loads(rows.head(2).to_json(orient="records"))}
        answer = TestClient(create_app(run)).post("/predict", json=body)
        print(json.dumps({"proba": proba.tolist(), "status": answer.status_code}))
    """, str(run_dir), str(run_dir.parent / "rows.csv"), str(run_dir.parent / "out.csv"))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["status"] == 200
    assert abs(__import__("numpy").asarray(got["proba"]) - expected).max() < 1e-6


def test_the_blocker_would_catch_a_training_import():
    """The check above can fail: a path that imports scikit-learn is caught."""
    done = _without_training("import automl_guide.pipeline")
    assert done.returncode != 0 and "is not in the base install" in done.stderr


def test_fitting_without_the_training_extra_names_the_command_that_adds_it(monkeypatch):
    from automl_guide import runtime

    monkeypatch.setattr(runtime, "TRAINING_MODULES", (*runtime.TRAINING_MODULES, "no_such_lib"))
    with pytest.raises(AutoMLGuideError, match=r"fit_and_export needs the training libraries, "
                       r"which this install lacks \(no_such_lib\): pip install "
                       r"'automl-guide\[train\]'"):
        fit_and_export(shop_frame(50, "binary"), "bought")


def test_the_training_entry_points_name_the_extra_in_the_base_install():
    """In the base install `automl_guide.fit_and_export` (and fit_shop, the estimators) is one
    error that names the extra, not a ModuleNotFoundError from deep in the engine."""
    done = _without_training("""
        import automl_guide
        for name in ("fit_and_export", "fit_shop", "AutoMLClassifier"):
            try:
                getattr(automl_guide, name)
            except automl_guide.AutoMLGuideError as exc:
                assert "pip install 'automl-guide[train]'" in str(exc), exc
                print(name, "refused")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fit_and_export", "refused", "fit_shop", "refused",
                                   "AutoMLClassifier", "refused"]


def test_the_cli_names_the_extra_for_fit_in_the_base_install(run_dir):
    done = _without_training("""
        import sys
        from automl_guide import cli
        sys.exit(cli.main(["fit", sys.argv[1], "--target", "bought"]))
    """, str(run_dir.parent / "rows.csv"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("automl-guide: error: automl-guide fit needs the training "
                                  "libraries, which this install lacks (")
    assert "pip install 'automl-guide[train]'" in done.stderr


def test_a_parquet_file_in_the_base_install_says_to_install_pyarrow(run_dir, tmp_path):
    import pandas as pd

    pd.read_csv(run_dir.parent / "rows.csv").to_parquet(tmp_path / "rows.parquet")
    done = _without_training("""
        import sys
        from automl_guide import cli
        sys.exit(cli.main(["predict", sys.argv[1], sys.argv[2]]))
    """, str(run_dir), str(tmp_path / "rows.parquet"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "needs pyarrow, which this install lacks: pip install pyarrow" in done.stderr
