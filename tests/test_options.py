"""The run's options, refused by name before any work (automl_guide.options)."""
from __future__ import annotations

import math
from pathlib import Path
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


# --- the option table holds the run's configuration, the CLI, the estimators and the docs ---

def test_the_run_configuration_is_the_option_table():
    import dataclasses

    from automl_guide.options import OPTIONS, FitConfig

    fields = dataclasses.fields(FitConfig)
    assert [f.name for f in fields] == ["target"] + [o.name for o in OPTIONS]
    assert [f.default for f in fields[1:]] == [o.default for o in OPTIONS]


def test_fit_and_export_takes_every_option_with_its_default():
    import inspect
    from pathlib import Path

    from automl_guide import fit_and_export
    from automl_guide.options import OPTIONS

    parameters = inspect.signature(fit_and_export).parameters
    keywords = [p for p in parameters if p not in ("data", "target", "plugins")]
    assert keywords == [o.name for o in OPTIONS]
    for option in OPTIONS:
        default = parameters[option.name].default
        assert (Path(default) if isinstance(option.default, Path) else default) == \
            option.default, option.name


def test_every_option_is_a_flag_of_fit_with_its_default_in_help(capsys):
    from automl_guide.cli import build_parser
    from automl_guide.options import OPTIONS

    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # help wraps its lines
    for option in OPTIONS:
        assert option.flag in shown, option.name
        if option.default is not None and option.cli == "value":
            assert f"(default: {option.default})" in shown, option.name


def test_the_flags_give_what_the_python_defaults_are():
    """Parsing `fit DATA` alone gives fit_and_export's defaults, and each flag reaches its
    option."""
    from automl_guide.cli import build_parser, fit_kwargs
    from automl_guide.options import DEFAULTS

    given = fit_kwargs(build_parser().parse_args(["fit", "t.csv"]))
    assert {k: v for k, v in given.items() if k != "out"} == {
        k: v for k, v in DEFAULTS.items() if k != "out"}
    assert Path(given["out"]) == DEFAULTS["out"]
    flags = fit_kwargs(build_parser().parse_args([
        "fit", "t.csv", "--max-trials", "3", "--models", "linear, xgboost", "--no-ensemble",
        "--quiet", "--resume", "DIR", "--codes", "", "--test-size", "0"]))
    assert flags["max_trials"] == 3 and flags["models"] == ["linear", "xgboost"]
    assert flags["ensemble"] is False and flags["quiet"] is True and flags["test_size"] == 0.0
    assert flags["resume"] is True and flags["out"] == "DIR" and flags["codes"] == []


def test_the_estimators_take_the_options_with_their_defaults():
    import inspect

    from automl_guide.estimators import ESTIMATOR_DEFAULTS, AutoMLClassifier, AutoMLRegressor
    from automl_guide.options import DEFAULTS

    for estimator in (AutoMLClassifier, AutoMLRegressor):
        parameters = inspect.signature(estimator.__init__).parameters
        for name, parameter in list(parameters.items())[1:]:
            assert name in DEFAULTS, name
            assert parameter.default == ESTIMATOR_DEFAULTS.get(name, DEFAULTS[name]), name


def test_every_option_is_in_the_cli_reference_with_its_default():
    """docs/cli.md's table of fit's options: a row per option, its default as the table has it
    (a number, a name, `off` for a flag, words for what None means)."""
    import re

    from automl_guide.options import OPTIONS

    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    rows = {}
    for line in text.split("## automl-guide predict")[0].splitlines():
        match = re.match(r"\| `(--[\w-]+)[^|]*\| ([^|]+) \|", line)
        if match:
            rows[match[1]] = match[2].strip().strip("`")
    for option in OPTIONS:
        assert option.flag in rows, option.flag
        shown, default = rows[option.flag], option.default
        if option.cli in ("flag", "no-flag"):
            assert shown == "off", option.flag
        elif default is None or option.cli == "resume":
            assert not re.fullmatch(r"[\d.]+", shown), option.flag  # words for "none"
        elif isinstance(default, (int, float)):
            assert float(shown) == default, option.flag
        else:
            assert shown == str(default), option.flag


@pytest.mark.parametrize("flags,said", [
    (["--max-trials", "0"], "--max-trials must be a whole number of at least 1, not 0."),
    (["--test-size", "1"], "--test-size is 1.0; give a share of the rows in [0, 1)."),
    (["--gpus-per-trial", "-1"], "--gpus-per-trial must be 0 or more, not -1.0.")])
def test_an_invalid_value_on_the_command_line_names_the_flag(flags, said, tmp_path, capsys):
    from automl_guide.cli import main
    from automl_guide.testing import sample_table

    frame, target = sample_table(60, "binary")
    frame.to_csv(tmp_path / "t.csv", index=False)
    code = main(["fit", str(tmp_path / "t.csv"), "--target", target, "--quiet", "--out",
                 str(tmp_path / "run"), *flags])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"automl-guide: error: {said}"


def test_models_given_as_one_string_or_none_at_all():
    """models="" is every family (as --models '' is), one name may be a string, and codes keep
    what they were given."""
    from automl_guide.options import make_config

    assert make_config("t", models="").models is None
    assert make_config("t", models="xgboost").models == ("xgboost",)
    assert make_config("t", models=["linear", "svm"]).models == ("linear", "svm")
    assert make_config("t", codes="store").codes == ("store",)
    assert make_config("t", out="run").out == Path("run")


def test_each_flag_gets_its_help_default_choices_and_metavar_from_the_table():
    import argparse

    from automl_guide.options import BY_NAME, add_arguments, from_arguments

    names = ["time_budget", "max_trials", "validation", "overwrite", "ensemble", "resume"]
    parser = argparse.ArgumentParser()
    add_arguments(parser, names, defaults={"time_budget": 120.0})
    actions = {a.dest: a for a in parser._actions}
    assert (actions["time_budget"].default, actions["time_budget"].metavar) == (120.0, "S")
    assert actions["time_budget"].help == BY_NAME["time_budget"].help + " (default: 120.0)"
    assert actions["max_trials"].help == BY_NAME["max_trials"].help  # None: no default shown
    assert actions["validation"].choices == ("auto", "holdout", "cv")
    assert actions["overwrite"].help == BY_NAME["overwrite"].help
    assert actions["overwrite"].default is False and actions["ensemble"].default is True
    assert actions["ensemble"].option_strings == ["--no-ensemble"]
    resume = actions["resume"]
    assert (resume.default, resume.metavar, resume.help) == (None, "DIR", BY_NAME["resume"].help)
    given = from_arguments(parser.parse_args(["--resume", "old", "--no-ensemble"]), names)
    assert given == {"time_budget": 120.0, "max_trials": None, "validation": "auto",
                     "overwrite": False, "ensemble": False, "resume": True, "out": "old"}


def test_a_comma_separated_flag_is_a_list_of_names():
    from automl_guide.options import split_names

    assert split_names(None) is None
    assert split_names(" linear, xgboost ,, ") == ["linear", "xgboost"]
    assert split_names("") == [] and split_names("a b") == ["a b"]


@pytest.mark.parametrize("option", [{"time_gap": "7 days"}, {"time_column_not_feature": True}])
def test_time_options_need_the_time_column(option):
    name = next(iter(option))
    with pytest.raises(DataError) as caught:
        check_options(FitConfig("t", **option), load_registry())
    assert str(caught.value) == (f"{name} needs time_column: the column of times it applies to.")
    assert check_options(FitConfig("t", time_column="day", **option), load_registry())
    assert check_options(FitConfig("t", time_gap=""), load_registry())  # no gap: nothing asked
