"""The scikit-learn estimator contract: AutoMLClassifier and AutoMLRegressor."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from automl_guide import AutoMLClassifier, AutoMLRegressor, DataError

from conftest import TARGETS, shop_frame

FAST = dict(time_budget=None, max_trials=1, models=["linear"], ensemble=False)


@pytest.mark.usefixtures("ray_session")
def test_cross_val_score_runs_a_search_per_fold_and_scores_it(monkeypatch):
    from automl_guide import api

    searched = []
    real = api.fit_and_export

    def counted(frame, target, **options):
        searched.append(len(frame))
        return real(frame, target, **options)

    monkeypatch.setattr(api, "fit_and_export", counted)
    frame = shop_frame(150, "binary", seed=7)
    X, y = frame.drop(columns=["bought"]), frame["bought"]
    scores = cross_val_score(AutoMLClassifier(**FAST), X, y, cv=3, error_score="raise")
    assert searched == [100, 100, 100]  # one search per fold, on that fold's training rows
    majority = y.value_counts(normalize=True).max()
    assert scores.shape == (3,) and np.all((scores > majority) & (scores <= 1.0)), scores


@pytest.mark.usefixtures("ray_session")
def test_classifier_contract_in_a_pipeline_with_numpy_and_integer_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=120) > 0, 7, 3)  # integer labels, not 0/1
    model = make_pipeline(FunctionTransformer(), AutoMLClassifier(**FAST)).fit(X, y)
    clf = model[-1]
    assert list(clf.classes_) == [3, 7] and clf.classes_.dtype == y.dtype
    assert clf.n_features_in_ == 3 and list(clf.feature_names_in_) == ["x0", "x1", "x2"]
    proba = model.predict_proba(X)
    assert proba.shape == (120, 2) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(model.predict(X)) <= {3, 7} and model.score(X, y) > 0.8
    assert clf.leaderboard_.iloc[0]["model"] == "linear" and clf.onnx_bytes_
    params = clone(clf).get_params()
    assert params["models"] == ["linear"] and params["test_size"] == 0.0
    with pytest.raises(DataError, match="X has 2 columns; the model was fitted on 3"):
        clf.predict(X[:, :2])
    again = pickle.loads(pickle.dumps(clf))  # after predicting: the session is rebuilt
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(clf.result_.predictor))
    np.testing.assert_array_equal(loaded.predict_proba(pd.DataFrame(X, columns=["x0", "x1", "x2"])),
                                  clf.predict_proba(X))


@pytest.mark.usefixtures("ray_session")
def test_regressor_predicts_values_and_scores_r2():
    frame = shop_frame(150, "regression", seed=8)
    X, y = frame.drop(columns=[TARGETS["regression"]]), frame[TARGETS["regression"]].to_numpy(
        dtype=float)
    reg = AutoMLRegressor(**FAST).fit(X, y)
    assert reg.predict(X).shape == (150,) and reg.score(X, y) > 0.3


def test_an_unfitted_or_one_class_estimator_says_what_is_wrong():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoMLClassifier().predict(np.zeros((2, 2)))
    with pytest.raises(DataError, match="y has 1 class"):
        AutoMLClassifier(**FAST).fit(np.zeros((4, 2)), np.ones(4))


def test_codes_reach_the_fit_as_column_names(monkeypatch):
    """X's column names become strings, and so do the declared codes; one name may be a str."""
    from automl_guide import api

    seen = []

    def fit_and_export(frame, target, **kwargs):
        seen.append((list(frame.columns), kwargs["codes"]))
        raise RuntimeError("recorded")

    monkeypatch.setattr(api, "fit_and_export", fit_and_export)
    X = pd.DataFrame(np.arange(60).reshape(20, 3))  # columns 0, 1, 2
    y = np.arange(20) % 2
    for codes in ([1], "1", None):
        with pytest.raises(RuntimeError, match="recorded"):
            AutoMLClassifier(codes=codes).fit(X, y)
    assert [c for _, c in seen] == [["1"], ["1"], None]
    assert seen[0][0][:3] == ["0", "1", "2"]


@pytest.mark.usefixtures("ray_session")
def test_an_estimator_that_writes_its_run_replaces_it_only_when_told(tmp_path):
    from automl_guide import ExportError

    frame = shop_frame(120, "binary", seed=4)
    X, y = frame.drop(columns=["bought"]), frame["bought"]
    AutoMLClassifier(out=tmp_path / "run", **FAST).fit(X, y)
    first = (tmp_path / "run" / "model.onnx").read_bytes()
    with pytest.raises(ExportError, match="overwrite"):  # the next fold's fit, say
        AutoMLClassifier(out=tmp_path / "run", **FAST).fit(X.iloc[:100], y.iloc[:100])
    assert (tmp_path / "run" / "model.onnx").read_bytes() == first
    clone(AutoMLClassifier(out=tmp_path / "run", overwrite=True, **FAST)).fit(
        X.iloc[:100], y.iloc[:100])
    card = json.loads((tmp_path / "run" / "model_card.json").read_text())
    assert card["rows"]["train"] == 100 and (tmp_path / "run" / "model.onnx").read_bytes() != first