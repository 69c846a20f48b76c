"""A learning-to-rank estimator in a binary classifier's clothes (imported only when the
``xgboost_ranker`` family builds a model: xgboost stays out of the registry's import).

XGBoost's ``rank:ndcg`` objective learns the order of the candidates of each query (in the shop's
``rank`` task, one customer at one cutoff) rather than each row's probability of being bought.
Its scores mean nothing across queries, so ``predict_proba`` maps them through a logistic curve
after centring and scaling by the training scores' mean and spread: monotone, so each query's
order is the ranker's, and spread out, so float32 keeps neighbours apart in the ONNX graph.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import xgboost
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin


class XGBRankingScorer(ClassifierMixin, BaseEstimator):
    """``fit(X, y, qid=...)`` trains an :class:`xgboost.XGBRanker` on the rows sorted by query
    (stable, so rows keep their order within a query); ``predict_proba`` is
    ``[1 - p, p]`` with ``p = sigmoid((score - shift_) / scale_)``."""

    def __init__(self, objective: str = "rank:ndcg", n_estimators: int = 300,
                 max_depth: int = 4, learning_rate: float = 0.03, subsample: float = 0.8,
                 colsample_bytree: float = 0.8, min_child_weight: float = 5.0,
                 reg_lambda: float = 1.0, random_state: int = 0, device: str = "cpu"):
        self.objective = objective
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.device = device

    def fit(self, X: Any, y: Any, qid: Any = None) -> "XGBRankingScorer":
        if qid is None:
            raise ValueError("XGBRankingScorer ranks the rows of each query and needs qid= "
                             "(one query id per row).")
        X, y, qid = np.asarray(X), np.asarray(y), np.asarray(qid)
        if len(qid) != len(y):
            raise ValueError(f"qid has {len(qid)} values for {len(y)} rows.")
        order = np.argsort(qid, kind="stable")
        self.ranker_ = xgboost.XGBRanker(
            objective=self.objective, n_estimators=self.n_estimators, max_depth=self.max_depth,
            learning_rate=self.learning_rate, subsample=self.subsample,
            colsample_bytree=self.colsample_bytree, min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda, random_state=self.random_state, device=self.device,
            tree_method="hist", n_jobs=1)
        self.ranker_.fit(X[order], y[order], qid=qid[order])
        score = self.ranker_.predict(X).astype(np.float64)
        self.shift_ = float(score.mean())
        self.scale_ = float(score.std()) or 1.0
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        score = self.ranker_.predict(np.asarray(X)).astype(np.float64)
        return (score - self.shift_) / self.scale_

    def predict_proba(self, X: Any) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)


def convert(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter: the ranker's trees (onnxmltools' XGBoost converter, registered for
    :class:`xgboost.XGBRanker`), then the same centring, scaling and logistic curve."""
    from onnx import TensorProto
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator

    from automl_guide_plugins._tabular_onnx import Nodes

    model = operator.raw_operator
    n = Nodes(scope, container)
    score = scope.get_unique_variable_name("rank_score")
    OnnxSubEstimator(model.ranker_, operator.inputs[0], op_version=container.target_opset,
                     output_names=[score]).add_to(scope, container)
    centred = n.op("Sub", [score, n.const(model.shift_, TensorProto.FLOAT)])
    p = n.op("Sigmoid", [n.op("Div", [centred, n.const(model.scale_, TensorProto.FLOAT)])])
    q = n.op("Sub", [n.const(1.0, TensorProto.FLOAT), p])
    probabilities = operator.outputs[1].full_name
    n.op("Concat", [q, p], probabilities, axis=1)
    n.op("ArgMax", [probabilities], operator.outputs[0].full_name, axis=1, keepdims=0)
