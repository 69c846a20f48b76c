"""Keras ANN: a multilayer perceptron on Keras 3's torch backend.

Registering costs nothing: keras and torch are imported by the estimator (in
:mod:`automl_guide_plugins._keras_mlp`) only when an ANN trial, refit or export runs. Trials train
epoch by epoch with early stopping and report in shares of their epochs so that ASHA can stop
poor ones; on a GPU worker they train on CUDA. The export is the network's own ONNX graph
(``keras.Model.export``), composed by the export stage after the feature graph.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from automl_guide import ModelSpec, hookimpl, trial_device


def _space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    return {"hidden_layers": tune.randint(1, 4), "units": tune.choice([32, 64, 128, 256]),
            "activation": tune.choice(["relu", "elu", "gelu", "tanh"]),
            "dropout": tune.uniform(0.0, 0.5), "batch_norm": tune.choice([False, True]),
            "learning_rate": tune.loguniform(1e-4, 1e-2),
            "batch_size": tune.choice([32, 64, 128, 256]), "epochs": tune.qrandint(20, 150, 10)}


def _default(task: str, n_rows: int) -> Mapping[str, Any]:
    return {"hidden_layers": 2, "units": 64, "activation": "relu", "dropout": 0.1,
            "batch_norm": False, "learning_rate": 2e-3, "batch_size": 128, "epochs": 60}


def _build(config: Mapping[str, Any], task: str, seed: int) -> Any:
    from ._keras_mlp import KerasMLP

    return KerasMLP(task=task, seed=seed, device=trial_device(), **config)


def _fit_stages(estimator: Any, X: Any, y: Any, stages: int) -> Iterator[int]:
    return estimator.fit_stages(X, y, stages)


def _onnx_graph(estimator: Any) -> Any:
    return estimator.to_onnx()


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("ann", frozenset({"binary", "multiclass", "regression"}), _build, _space,
                       _default, needs_scaling=True, relative_cost=4.0, fit_stages=_fit_stages,
                       onnx_graph=_onnx_graph, uses_gpu=True,
                       description="Keras 3 (torch backend) multilayer perceptron"))
