"""This package's own tests: automl-guide's model-plugin contract, run with ``pytest tests``
once the package is installed (``pip install -e .``)."""
import lightgbm
import numpy as np
import pytest

from automl_guide import load_registry
from automl_guide.testing import check_model_plugin
from automl_guide_lightgbm.estimators import LGBMClassifier, LGBMRegressor


def test_the_plugin_is_discovered_through_its_entry_point():
    registered = load_registry().models["lightgbm"]
    assert registered.distribution == "automl-guide-lightgbm"


def test_every_task_keeps_the_contract():
    """Default and one sampled configuration per task: built, cloned, fitted behind
    automl-guide's feature plugins, exported to one ONNX graph, checked for parity."""
    checks = check_model_plugin("lightgbm")
    assert {c.task for c in checks} == {"binary", "multiclass", "regression"}
    assert all(c.max_abs_diff < 1e-5 for c in checks)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_thresholds_rounded_to_float32_predict_exactly_as_before(task):
    """Each threshold goes down to a float32 the graph holds exactly, and no float32 feature
    value changes side: the booster predicts what LightGBM's own did, to the last bit."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3)).astype(np.float32)
    steps = rng.integers(0, 6, 3000)
    X[:, 0] = np.float32(4.0) + np.spacing(np.float32(4.0)) * steps  # neighbouring float32s
    y = {"binary": (steps >= 4) ^ (X[:, 1] > 1.0), "multiclass": steps // 2,
         "regression": steps + X[:, 1]}[task]
    ours, theirs = ((LGBMRegressor, lightgbm.LGBMRegressor) if task == "regression"
                    else (LGBMClassifier, lightgbm.LGBMClassifier))
    plain = theirs(n_estimators=40, verbosity=-1, random_state=0).fit(X, y)
    mine = ours(n_estimators=40, verbosity=-1, random_state=0).fit(X, y)
    predict = "predict" if task == "regression" else "predict_proba"
    assert np.array_equal(getattr(plain, predict)(X), getattr(mine, predict)(X))
    thresholds = mine.booster_.trees_to_dataframe()["threshold"].dropna().to_numpy()
    assert np.array_equal(thresholds, thresholds.astype(np.float32))  # all float32 numbers
    assert not np.array_equal(plain.booster_.trees_to_dataframe()["threshold"].dropna(),
                              thresholds)  # and some were not before
