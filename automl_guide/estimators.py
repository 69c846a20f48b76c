"""scikit-learn estimators over :func:`automl_guide.fit_and_export`.

``AutoMLClassifier`` and ``AutoMLRegressor`` follow the estimator contract (``fit``, ``predict``,
``predict_proba``, ``score``, ``get_params``/``set_params``, ``clone``), so a search drops into a
scikit-learn ``Pipeline``, ``cross_val_score`` or ``GridSearchCV``. They predict through the
exported ONNX graph, the very model a service would run; ``onnx_bytes_`` holds it and
``result_`` the whole run (leaderboard, card). They do not warn of drift (a fold always holds
categories unseen in the others); ``automl_guide.load`` does. By default nothing is written to disk
(``out=None``) and every row given to ``fit`` trains the model (``test_size=0``): scikit-learn's
own splitters do the testing. With ``out=DIR`` each fit writes its run there, replacing an
earlier one only with ``overwrite=True``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .columns import string_names
from .errors import DataError

TARGET = "__automl_guide_target__"


# Where the estimators' defaults differ from fit_and_export's: scikit-learn's splitters do the
# testing, nothing is written unless asked, and a search inside cross_val_score is quiet.
ESTIMATOR_DEFAULTS = {"test_size": 0.0, "out": None, "quiet": True}


class _AutoML(BaseEstimator):
    _task: str = ""

    def __init__(self, time_budget: float | None = 60.0, max_trials: int | None = None,
                 models: Sequence[str] | None = None, searcher: str = "random",
                 metric: str | None = None, validation: str = "auto", ensemble: bool = True,
                 test_size: float = 0.0, out: str | None = None, seed: int = 0,
                 quiet: bool = True, max_predict_us: float | None = None,
                 codes: Sequence[str] | None = None, overwrite: bool = False):
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.models = models
        self.searcher = searcher
        self.metric = metric
        self.validation = validation
        self.ensemble = ensemble
        self.test_size = test_size
        self.out = out
        self.seed = seed
        self.quiet = quiet
        self.max_predict_us = max_predict_us
        self.codes = codes
        self.overwrite = overwrite

    def _frame(self, X: Any, fitting: bool = False) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            frame = string_names(X.reset_index(drop=True))
        else:
            values = np.asarray(X)
            if values.ndim != 2:
                raise DataError(f"X must be 2-D (rows x columns); got shape {values.shape}.")
            frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
        if fitting:
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
            self.n_features_in_ = frame.shape[1]
        elif frame.shape[1] != self.n_features_in_:
            raise DataError(f"X has {frame.shape[1]} columns; the model was fitted on "
                            f"{self.n_features_in_}.")
        return frame

    def fit(self, X: Any, y: Any) -> "_AutoML":
        from .api import fit_and_export

        frame = self._frame(X, fitting=True)
        target = np.asarray(y)
        if target.ndim != 1 or len(target) != len(frame):
            raise DataError(f"y must be 1-D with one value per row of X ({len(frame)}); got "
                            f"shape {target.shape}.")
        task = self._task_for(target)
        options = self.get_params()  # each one an option of fit_and_export (options.OPTIONS)
        if self.codes is not None:  # X's column names are made strings too
            options["codes"] = ([self.codes] if isinstance(self.codes, str)
                                else [str(c) for c in self.codes])
        self.result_ = fit_and_export(frame.assign(**{TARGET: target}), TARGET, task=task,
                                      **options)
        self.onnx_bytes_ = self.result_.onnx_bytes
        return self

    def _task_for(self, y: np.ndarray) -> str:
        return self._task

    @property
    def leaderboard_(self) -> pd.DataFrame:
        check_is_fitted(self, "result_")
        return self.result_.leaderboard

    def _predictor(self) -> Any:
        check_is_fitted(self, "result_")
        return self.result_.predictor

    def _scored(self, X: Any, method: str) -> np.ndarray:
        """``method`` of the exported model on X. No DriftWarning: scikit-learn's splitters
        always leave categories and ranges unseen in a fold (``automl_guide.load`` warns)."""
        import warnings

        from .errors import DriftWarning

        predictor = self._predictor()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DriftWarning)
            return getattr(predictor, method)(self._frame(X))


class AutoMLClassifier(ClassifierMixin, _AutoML):
    """A classifier found by automl-guide's search and served by its ONNX graph.

    ``classes_`` are the labels seen in ``fit`` in the order of ``predict_proba``'s columns.
    """

    def _task_for(self, y: np.ndarray) -> str:
        classes = pd.unique(pd.Series(y).dropna())
        if len(classes) < 2:
            raise DataError(f"y has {len(classes)} class(es); a classifier needs at least 2.")
        return "binary" if len(classes) == 2 else "multiclass"

    def fit(self, X: Any, y: Any) -> "AutoMLClassifier":
        super().fit(X, y)
        self.classes_ = np.asarray(self.result_.card["class_labels"], dtype=np.asarray(y).dtype)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.asarray(self._scored(X, "predict_proba"), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)  # first: an unfitted estimator says so
        return self.classes_[proba.argmax(axis=1)]


class AutoMLRegressor(RegressorMixin, _AutoML):
    """A regressor found by automl-guide's search and served by its ONNX graph."""

    _task = "regression"

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self._scored(X, "predict"), dtype=np.float64).ravel()
