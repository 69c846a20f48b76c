from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def ray_session():
    """One Ray session for the whole test run (ray.init costs seconds)."""
    from automl_guide import search

    search.ensure_ray(num_cpus=2, num_gpus=2)  # logical GPUs: GPU trials schedule here too
    yield
    import ray

    ray.shutdown()


def shop_frame(n: int = 300, task: str = "binary", seed: int = 0) -> pd.DataFrame:
    """A small mixed table: floats with gaps, ints, booleans, categories (one high-cardinality),
    datetimes and a target that depends on several of them."""
    rng = np.random.default_rng(seed)
    price = rng.gamma(2.0, 30.0, n)
    visits = rng.integers(0, 20, n)
    member = rng.random(n) < 0.4
    category = rng.choice(["dress", "shoes", "bag", "hat"], n, p=[0.4, 0.3, 0.2, 0.1])
    city = np.array([f"city_{i}" for i in rng.integers(0, 60, n)], dtype=object)
    seen = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h")
    signal = 0.04 * visits + 0.8 * member - 0.01 * price + (category == "dress") * 0.7
    frame = pd.DataFrame({"price": price, "visits": visits, "member": member,
                          "category": category, "city": city, "last_seen": seen})
    frame.loc[rng.random(n) < 0.1, "price"] = np.nan
    frame.loc[rng.random(n) < 0.05, "category"] = None
    if task == "binary":
        frame["bought"] = np.where(signal + rng.normal(0, 0.5, n) > 0.3, "yes", "no")
    elif task == "multiclass":
        frame["segment"] = np.digitize(signal + rng.normal(0, 0.3, n), [0.0, 0.5, 1.0])
    else:
        frame["spend"] = 50 + 40 * signal + rng.normal(0, 5, n)
    return frame


TARGETS = {"binary": "bought", "multiclass": "segment", "regression": "spend"}


@pytest.fixture
def binary_frame() -> pd.DataFrame:
    return shop_frame(300, "binary")

