"""What `load(...).predict` and `automl-guide predict` take: missing values where the graph fills
them (with a drift warning naming the fill, refused with strict), a clear error where it cannot
(integer and boolean inputs), JSON records read without a DataFrame exactly as a DataFrame is
read, and an id column passed through to the output."""
from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import shop_frame

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory, ray_session):
    """A small binary run: 'price' and 'category' had gaps in training; 'visits' (integer),
    'member' (boolean), 'city' (categorical) and 'last_seen' (datetime) had none."""
    from automl_guide import fit_and_export

    out = tmp_path_factory.mktemp("fitted") / "run"
    fit_and_export(shop_frame(300, "binary"), "bought", models=["linear", "decision_tree"],
                   max_trials=3, time_budget=None, out=out, quiet=True)
    return out


def _rows(n: int = 4, seed: int = 5) -> pd.DataFrame:
    return shop_frame(n, "binary", seed=seed).drop(columns=["bought"])


def test_a_gap_where_training_had_none_is_predicted_with_the_fill_value(fitted_run):
    """The graph fills a missing category as one never seen and a missing date with the
    training median (and its missing flag): the rows are scored with one warning that says so;
    strict refuses them."""
    from automl_guide import DataError, DriftWarning, load

    rows = _rows()
    rows.loc[0, "city"] = None
    rows.loc[1, "last_seen"] = None
    with pytest.warns(DriftWarning) as caught:
        proba = load(fitted_run).predict_proba(rows)
    said = str(caught[0].message)
    assert "'city': 1 row(s) missing, none were in training; 'last_seen': 1 row(s) missing" in said
    assert said.endswith("Predicted with the model's fill value: 'city' as a category never "
                         "seen, 'last_seen' as the training median date (and its missing "
                         "flag).")
    with pytest.warns(DriftWarning, match="categories unseen in training"):
        unseen = load(fitted_run).predict_proba(rows.assign(city=["never-seen"] + list(
            rows["city"][1:])))
    np.testing.assert_allclose(proba[0], unseen[0], atol=1e-7)  # the fill the warning names
    with pytest.raises(DataError, match=r"(?s)strict mode.*'city': 1 row\(s\) missing"):
        load(fitted_run, strict=True).predict(rows)


@pytest.mark.parametrize("column", ["visits", "member"])
def test_a_gap_in_an_integer_or_boolean_column_is_an_error_that_says_why(fitted_run, column):
    """An int64 input holds no missing value and the graph has no fill value for it."""
    from automl_guide import DataError, load

    rows = _rows().astype({column: object})
    rows.loc[2, column] = None
    with pytest.raises(DataError) as caught:
        load(fitted_run).predict(rows)
    said = str(caught.value)
    assert said.startswith(f"Column {column!r} needs ")
    assert said.endswith(f"The model takes {column!r} as whole numbers or true/false (int64 "
                         "inputs, which hold no missing value) and has no fill value there, "
                         "since training had no gaps: fill those rows, or refit on data with "
                         "gaps in such a column (it is then taken as numbers or categories that "
                         "may be missing).")


_CELLS = {"price": [None, 3, 2.5, 1e300, float("inf"), 10**30, -0.0],
          "visits": [0, 7, -3, 2**62], "member": [True, False],
          "category": [None, "dress", "umbrella", ""], "city": [None, "city_3", "zzz"],
          "last_seen": [None, "2024-01-01", "2024-09-04T03:00:00", "2024-09-04 03:00:00Z",
                        "2024-09-04T03:00:00+02:00", "1969-12-31T23:59:59.5", "1500-01-01",
                        "2024-09-04T03:00", 1725418800, 1725418800.7, -0.5]}


def test_json_records_are_read_as_a_frame_of_them_is(fitted_run):
    """`typed_records` (the service's lean path) gives the arrays `typed` makes of a DataFrame
    of the same records, for every kind of cell a JSON client sends; it gives None for what it
    leaves to the DataFrame path (text in a number column, a gap in an integer column)."""
    from automl_guide import load

    model = load(fitted_run)
    base = json.loads(_rows(5, seed=3).to_json(orient="records", date_format="iso"))
    draw, read, compared = random.Random(0), 0, 0
    for _ in range(300):
        batch = [dict(row, **{k: draw.choice(v) for k, v in _CELLS.items() if draw.random() < .5})
                 for row in base[:draw.randint(1, 5)]]
        lean = model.typed_records(batch)
        full = model.typed(pd.DataFrame(batch, columns=[c.name for c in model.columns]))
        if lean is None:
            continue
        read += 1
        for name, values in full.items():
            assert lean[name].dtype == values.dtype, (name, batch)
            assert np.array_equal(lean[name], values, equal_nan=values.dtype.kind == "f"), (
                name, batch)
            compared += 1
    assert read > 250 and compared == 6 * read
    assert model.typed_records([dict(base[0], visits="7")]) is None
    assert model.typed_records([dict(base[0], visits=None)]) is None
    assert model.typed_records([{k: v for k, v in base[0].items() if k != "city"}]) is not None
    assert load(fitted_run, strict=True).typed_records([dict(base[0], city=None)]) is None


def _predict(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "automl-guide"), "predict", *args], capture_output=True,
                          text=True, timeout=120)


def test_the_predict_command_scores_a_gap_with_a_warning_and_strict_refuses_it(fitted_run,
                                                                               tmp_path):
    rows = _rows()
    rows.loc[3, "city"] = None
    rows.to_csv(tmp_path / "gaps.csv", index=False)
    done = _predict(str(fitted_run), str(tmp_path / "gaps.csv"))
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(io.StringIO(done.stdout))) == 4
    assert ("automl-guide: warning: Scored rows differ from the training data (accepted; use "
            "strict mode to refuse them; not repeated for these columns): 'city': 1 row(s) "
            "missing, none were in training. Predicted with the model's fill value: 'city' as "
            "a category never seen.") in done.stderr
    strict = _predict(str(fitted_run), str(tmp_path / "gaps.csv"), "--strict")
    assert strict.returncode == 2
    assert strict.stderr.startswith("automl-guide: error: The input differs from the training "
                                    "data (strict mode):\n  - 'city': 1 row(s) missing")


def test_the_predict_command_writes_the_id_column_first(fitted_run, tmp_path, capsys):
    from automl_guide.cli import main

    rows = _rows().assign(order_id=["0030", "A-7", "0031", "19"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    assert main(["predict", str(fitted_run), str(tmp_path / "rows.csv"),
                 "--id-column", "order_id"]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"order_id": str})
    assert list(out.columns) == ["order_id", "prediction", "proba_no", "proba_yes"]
    assert out["order_id"].tolist() == ["0030", "A-7", "0031", "19"]  # as written
    assert main(["predict", str(fitted_run), str(tmp_path / "rows.csv"),
                 "--id-column", "order"]) == 2
    assert capsys.readouterr().err == (
        "automl-guide: error: --id-column 'order' is not a column of the data; it has 'price', "
        "'visits', 'member', 'category', 'city', 'last_seen', 'order_id'.\n")
