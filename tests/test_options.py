"""The run's options, refused by name before any work (automl_guide.options)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from automl_guide import DataError, ExportError, PluginError, SearchError, load_registry
from automl_guide.api import FitConfig
from automl_guide.options import check_options, is_number

REGISTRY = load_registry()


def _checked(**options):
    return check_options(FitConfig("bought", **options), REGISTRY)


def test_a_number_is_a_real_that_is_neither_a_bool_nor_nan():
    assert all(is_number(v) for v in (0, 3, -2.5, np.float32(1.5), np.int64(7), math.inf))
    assert not any(is_number(v) for v in (True, False, np.nan, float("nan"), "5", None, [1]))


@pytest.mark.parametrize("options,error,message", [
    ({"scheduler": "hyperband"}, SearchError,
     "Unknown scheduler 'hyperband'; choose one of none, asha."),
    ({"time_budget": -1}, SearchError,
     "time_budget must be a positive number of seconds (0 or None: no limit), not -1."),
    ({"max_predict_us": 0}, SearchError,
     "max_predict_us must be a positive number of microseconds (None: no limit), not 0."),
    ({"trial_time_limit": "10"}, SearchError,
     "trial_time_limit must be a positive number of seconds (None: half the search time), not "
     "'10'."),
    ({"cpus_per_trial": True}, SearchError,
     "cpus_per_trial must be a positive number of CPUs, not True."),
    ({"gpus_per_trial": -1}, SearchError, "gpus_per_trial must be 0 or more, not -1."),
    ({"gpus_per_trial": float("nan")}, SearchError, "gpus_per_trial must be 0 or more, not nan."),
    ({"max_trials": 0}, SearchError, "max_trials must be a whole number of at least 1, not 0."),
    ({"max_trials": 2.5}, SearchError,
     "max_trials must be a whole number of at least 1, not 2.5."),
    ({"folds": 1}, SearchError, "folds must be a whole number of at least 2, not 1."),
    ({"searcher": "bayes"}, PluginError, None),
])
def test_a_bad_option_is_refused_by_name_with_what_it_must_be(options, error, message):
    with pytest.raises(error) as caught:
        _checked(**options)
    if message is not None:
        assert str(caught.value) == message
    else:
        assert str(caught.value).startswith("No searcher plugin named 'bayes'")


def test_the_smallest_good_values_pass_and_counts_become_whole_numbers():
    config = _checked(max_trials=1.0, folds=2, gpus_per_trial=0, cpus_per_trial=0.5,
                      time_budget=0.1, trial_time_limit=1, max_predict_us=1e-3)
    assert (config.max_trials, config.folds) == (1, 2)
    assert type(config.max_trials) is int and type(config.folds) is int
    assert (config.gpus_per_trial, config.cpus_per_trial, config.time_budget) == (0, 0.5, 0.1)


def test_a_time_budget_of_zero_means_no_limit_and_unset_options_stay_unset():
    config = _checked(time_budget=0, max_trials=None, trial_time_limit=None)
    assert (config.time_budget, config.max_trials, config.trial_time_limit) == (None, None, None)
    assert _checked(time_budget=None).time_budget is None
    assert _checked(time_budget=60).time_budget == 60
    with pytest.raises(SearchError, match="^time_budget must be a positive number"):
        _checked(time_budget=False)  # not 0: a bool is no number


def test_folds_matter_only_for_cross_validation():
    assert _checked(folds=1, validation="holdout").folds == 1
    assert _checked(folds=1.0, validation="holdout").folds == 1.0  # left as given
    with pytest.raises(SearchError, match=r"^folds must be a whole number of at least 2"):
        _checked(folds=1, validation="auto")


def test_out_naming_a_file_is_refused_and_a_directory_is_not(tmp_path):
    (tmp_path / "model.onnx").write_text("a file")
    with pytest.raises(ExportError) as caught:
        _checked(out=tmp_path / "model.onnx")
    assert str(caught.value) == (f"{tmp_path / 'model.onnx'} is a file; --out names a "
                                 "directory for the run's files.")
    assert _checked(out=tmp_path).out == tmp_path
    assert _checked(out=tmp_path / "new").out == tmp_path / "new"  # not there yet: made later


def test_the_target_is_the_column_name_it_will_be():
    assert check_options(FitConfig(0), REGISTRY).target == "0"
    assert check_options(FitConfig(np.int64(3)), REGISTRY).target == "3"
    assert check_options(FitConfig("bought"), REGISTRY).target == "bought"
    for bad in (["bought"], True, 2.5, None):
        with pytest.raises(DataError) as caught:
            check_options(FitConfig(bad), REGISTRY)
        assert str(caught.value) == f"target must be one column name, not {bad!r}."
    resumed = check_options(FitConfig(None, resume=True), REGISTRY)  # the run's own target
    assert resumed.target is None and resumed.resume


def test_options_are_checked_in_a_fixed_order_and_the_first_bad_one_is_named():
    with pytest.raises(SearchError, match=re.escape("Unknown scheduler 'x'")):
        _checked(scheduler="x", time_budget=-1, max_trials=0)
    with pytest.raises(SearchError, match="^time_budget"):
        _checked(time_budget=-1, max_trials=0)
