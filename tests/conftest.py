from __future__ import annotations

import os

import pandas as pd
import pytest

from automl_guide.testing import TARGETS, sample_table


if "MUTANT_UNDER_TEST" in os.environ:  # `make mutation`: the tests run in mutmut's copy of the
    # tree (mutants/), where the shop schemas are the folder schemas/, which the package
    # installs as automl_guide_schemas: the tests must import the copy mutmut changes
    import importlib
    import sys

    sys.modules["automl_guide_schemas"] = importlib.import_module("schemas")
    sys.modules["automl_guide_schemas.shop"] = importlib.import_module("schemas.shop")


def pytest_collection_modifyitems(items):
    """Tests that need Ray carry the marker ``ray`` (`make mutation` runs the others)."""
    for item in items:
        if "ray_session" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ray)


@pytest.fixture(scope="session")
def ray_session():
    """One Ray session for the whole test run (ray.init costs seconds)."""
    from automl_guide import search

    search.ensure_ray(num_cpus=2, num_gpus=2)  # logical GPUs: GPU trials schedule here too
    yield
    import ray

    ray.shutdown()


def shop_frame(n: int = 300, task: str = "binary", seed: int = 0) -> pd.DataFrame:
    """A small mixed table with its target column ``TARGETS[task]`` (the plugin checks' table:
    :func:`automl_guide.testing.sample_table`)."""
    return sample_table(n, task, seed)[0]


@pytest.fixture
def binary_frame() -> pd.DataFrame:
    return shop_frame(300, "binary")


def register_like_logistic(cls: type, alias: str) -> None:
    """Convert ``cls`` (a LogisticRegression subclass whose predict_proba lies) with skl2onnx's
    logistic-regression converter: its graph is the plain model's, so parity fails."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    from skl2onnx.operator_converters.linear_classifier import (
        convert_sklearn_linear_classifier)

    update_registered_converter(cls, alias, calculate_linear_classifier_output_shapes,
                                convert_sklearn_linear_classifier,
                                options={"nocl": [True, False], "zipmap": [True, False, "columns"],
                                         "raw_scores": [True, False]})
