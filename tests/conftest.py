from __future__ import annotations

import pandas as pd
import pytest

from automl_guide.testing import TARGETS, sample_table


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
