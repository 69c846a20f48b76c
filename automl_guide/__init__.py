"""automl-guide: plugin-based AutoML for a shop's smart shopping guide.

``fit_and_export`` goes from a table to one ONNX graph (preprocessing included) that any service
runs with onnxruntime; ``load`` gives an onnxruntime-backed predictor for that file. Plugins
implement the hooks in :mod:`automl_guide.hookspecs` with ``hookimpl`` and register the specs
defined here. Heavy modules (ray, onnx, scikit-learn pipelines) load only when first used.
"""
from __future__ import annotations

from typing import Any

from .errors import (AutoMLGuideError, DataError, DriftWarning, ExportError, ParityError,
                     PluginError, SearchError)
from .hookspecs import hookimpl
from .runtime import fit_structure, trial_device
from .specs import (FamilyScores, FeatureContext, FeatureSpec, ModelSpec, SearcherSpec,
                    SearchProblem, ShopFeatureSpec)

__version__ = "0.1.0"

_LAZY = {"fit_and_export": "api", "FitResult": "api", "load": "predictor",
         "Predictor": "predictor", "load_registry": "registry", "PluginRegistry": "registry",
         "fit_shop": "shop.run", "recommend": "shop.snapshot", "ShopResult": "shop.run",
         "ShopData": "shop.history", "ShopHistory": "shop.history", "AutoMLClassifier": "estimators",
         "AutoMLRegressor": "estimators", "holdout_rows": "splits"}

__all__ = ["AutoMLClassifier", "AutoMLRegressor", "AutoMLGuideError", "DataError", "DriftWarning", "ExportError", "FamilyScores", "FeatureContext",
           "FeatureSpec", "FitResult", "ModelSpec", "ParityError", "PluginError",
           "PluginRegistry", "Predictor", "SearchError", "SearchProblem", "SearcherSpec",
           "ShopData", "ShopFeatureSpec", "ShopHistory", "ShopResult", "fit_and_export", "fit_shop", "fit_structure",
           "recommend", "hookimpl", "holdout_rows", "load", "load_registry", "trial_device",
           "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        try:
            module = importlib.import_module(f".{_LAZY[name]}", __name__)
        except ModuleNotFoundError as exc:  # the base install: no training libraries
            from .runtime import training_missing

            error = training_missing(exc, name)
            if error is None:
                raise
            raise error from exc
        return getattr(module, name)
    raise AttributeError(f"module 'automl_guide' has no attribute {name!r}")
