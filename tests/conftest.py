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

