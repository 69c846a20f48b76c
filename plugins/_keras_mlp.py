"""A Keras 3 multilayer perceptron (torch backend) behind the scikit-learn estimator contract.

Imported only when an ANN trial, refit or export needs it: importing keras and torch costs
seconds, which nothing else should pay. Training runs epoch by epoch with early stopping on the
loss of a seeded 10 % validation split (the best epoch's weights are kept), so that
:meth:`KerasMLP.fit_stages` can hand control back between epochs to Ray Tune's ASHA scheduler.
"""
from __future__ import annotations

import os
import random
import tempfile
import warnings
from typing import Any, Iterator

import numpy as np
from sklearn.base import BaseEstimator

from automl_guide import fit_structure, holdout_rows

VALIDATION_SHARE = 0.1
MIN_VALIDATION_ROWS = 20


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"the ANN plugin needs KERAS_BACKEND=torch, but keras runs on "
                           f"{keras.backend.backend()!r}")
    return keras


class KerasMLP(BaseEstimator):
    """Dense layers (optionally batch-normalized) with dropout; softmax over the classes seen in
    training for classification, one linear unit on a standardized target for regression."""

    def __init__(self, task: str = "binary", hidden_layers: int = 2, units: int = 64,
                 activation: str = "relu", dropout: float = 0.1, batch_norm: bool = False,
                 learning_rate: float = 2e-3, batch_size: int = 128, epochs: int = 60,
                 patience: int = 6, seed: int = 0, device: str = "cpu"):
        self.task = task
        self.hidden_layers = hidden_layers
        self.units = units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.seed = seed
        self.device = device

    # -- training -------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray) -> "KerasMLP":
        for _ in self.fit_stages(X, y, 1):
            pass
        return self

    def fit_stages(self, X: np.ndarray, y: np.ndarray, stages: int) -> Iterator[int]:
        """Train, yielding the number of epochs done after each of ``stages`` equal shares of
        ``epochs``; between yields the estimator predicts with its current weights. Early
        stopping ends training (and the iteration) before the last share when validation loss
        stops improving; the best epoch's weights are then restored."""
        keras = _keras()
        X = np.asarray(X, dtype=np.float32)
        classification = self.task != "regression"
        if classification:
            self.classes_, target = np.unique(np.asarray(y), return_inverse=True)
            target = target.astype(np.int32)
        else:
            target = np.asarray(y, dtype=np.float32)
            self.y_mean_ = float(target.mean())
            self.y_std_ = float(target.std()) or 1.0
            target = (target - self.y_mean_) / self.y_std_
        rng = np.random.RandomState(self.seed)
        order = rng.permutation(len(X))
        n_val = int(len(X) * VALIDATION_SHARE) if len(X) * VALIDATION_SHARE >= MIN_VALIDATION_ROWS else 0
        val, fit = order[:n_val], order[n_val:]
        if n_val and fit_structure() is not None:  # held out as the run splits: later, or groups
            rows = holdout_rows(target, VALIDATION_SHARE, self.seed)
            if rows is not None:
                fit, val = rows
        self.n_features_in_ = X.shape[1]
        # keras.utils.set_random_seed seeds Python's, numpy's and torch's global generators,
        # which Keras draws from while building and training (initializers, dropout,
        # shuffling); the caller's Python and numpy states are put back when training ends.
        saved = random.getstate(), np.random.get_state()
        try:
            with keras.device(self.device):
                keras.utils.set_random_seed(int(self.seed))
                yield from self._train(keras, X, target, fit, val, stages)
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])

    def _train(self, keras: Any, X: np.ndarray, target: np.ndarray, fit: np.ndarray,
               val: np.ndarray, stages: int) -> Iterator[int]:
        n_val = len(val)
        classification = self.task != "regression"
        self.model_ = self._network(keras, X.shape[1], len(self.classes_) if classification else 1)
        best, best_weights, waited = np.inf, None, 0
        shares = np.linspace(0, self.epochs, stages + 1).round().astype(int)[1:]
        epoch = 0
        for share_end in shares:
            while epoch < share_end:
                history = self.model_.fit(
                    X[fit], target[fit], batch_size=int(self.batch_size), epochs=epoch + 1,
                    initial_epoch=epoch, verbose=0, shuffle=True,
                    validation_data=(X[val], target[val]) if n_val else None)
                epoch += 1
                loss = history.history["val_loss" if n_val else "loss"][-1]
                if np.isfinite(loss) and loss < best - 1e-4:
                    best, best_weights, waited = loss, self.model_.get_weights(), 0
                else:
                    waited += 1
                if waited >= self.patience:
                    break
            self.epochs_trained_ = epoch
            if waited >= self.patience:
                break
            if epoch < self.epochs:
                yield epoch
        if best_weights is not None:
            self.model_.set_weights(best_weights)
        if not np.isfinite(best):
            raise ValueError("training diverged (loss is not finite); lower learning_rate")
        yield epoch

    def _network(self, keras: Any, n_features: int, n_outputs: int) -> Any:
        layers = [keras.Input((n_features,), name="features")]
        for _ in range(int(self.hidden_layers)):
            layers.append(keras.layers.Dense(int(self.units), use_bias=not self.batch_norm))
            if self.batch_norm:
                layers.append(keras.layers.BatchNormalization())
            layers.append(keras.layers.Activation(self.activation))
            if self.dropout > 0:
                layers.append(keras.layers.Dropout(float(self.dropout)))
        classification = self.task != "regression"
        layers.append(keras.layers.Dense(n_outputs,
                                         activation="softmax" if classification else None))
        model = keras.Sequential(layers)
        model.compile(optimizer=keras.optimizers.Adam(float(self.learning_rate)),
                      loss="sparse_categorical_crossentropy" if classification else "mse")
        return model

    # -- prediction -----------------------------------------------------------------------
    def _raw(self, X: np.ndarray) -> np.ndarray:
        keras = _keras()
        with keras.device(self.device):
            out = self.model_.predict(np.asarray(X, dtype=np.float32), batch_size=8192, verbose=0)
        return np.asarray(out, dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._raw(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.task != "regression":
            return self.classes_[self._raw(X).argmax(axis=1)]
        return self._raw(X)[:, 0] * self.y_std_ + self.y_mean_

    # -- export ---------------------------------------------------------------------------
    def to_onnx(self) -> Any:
        """The network as an ONNX graph: float input ``[N, n_features]``; output
        ``probabilities`` ``[N, K]`` or ``variable`` ``[N, 1]`` (target scale restored)."""
        import onnx
        from onnx import helper, numpy_helper

        keras = _keras()
        with tempfile.TemporaryDirectory(prefix="automl_guide_keras_") as tmp, \
                warnings.catch_warnings(), keras.device("cpu"):
            warnings.simplefilter("ignore")  # torch's tracer warns about Python ints in shapes
            path = os.path.join(tmp, "network.onnx")
            self.model_.export(path, format="onnx", verbose=False)
            graph = onnx.load(path)
        out_name = "probabilities" if self.task != "regression" else "variable"
        _rename(graph, graph.graph.input[0].name, "input")
        raw = graph.graph.output[0].name
        if self.task == "regression":
            _rename(graph, raw, "automl_guide_scaled")
            graph.graph.initializer.extend([
                numpy_helper.from_array(np.array([self.y_std_], np.float32), "automl_guide_std"),
                numpy_helper.from_array(np.array([self.y_mean_], np.float32), "automl_guide_mean")])
            graph.graph.node.extend([
                helper.make_node("Mul", ["automl_guide_scaled", "automl_guide_std"],
                                 ["automl_guide_unscaled"]),
                helper.make_node("Add", ["automl_guide_unscaled", "automl_guide_mean"],
                                 [out_name])])
            graph.graph.output[0].name = out_name
        else:
            _rename(graph, raw, out_name)
        return graph


def _rename(graph: Any, old: str, new: str) -> None:
    """Rename a tensor everywhere in ``graph`` (inputs, outputs, node edges)."""
    for value in list(graph.graph.input) + list(graph.graph.output):
        if value.name == old:
            value.name = new
    for node in graph.graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        node.output[:] = [new if o == old else o for o in node.output]
