"""Plugin discovery and validation (pluggy, entry-point group ``automl_guide``)."""
from __future__ import annotations

import re
import types

import pytest

from automl_guide import FeatureSpec, ModelSpec, PluginError, SearcherSpec, hookimpl
from automl_guide.registry import DISABLE_EXTERNAL_ENV, IN_PROCESS, load_registry

BUILTIN_MODELS = {"decision_tree", "random_forest", "extra_trees", "xgboost", "lightgbm", "svm",
                  "linear"}


def _model(name: str = "toy", **overrides) -> ModelSpec:
    fields = dict(name=name, tasks=frozenset({"binary"}), build=lambda c, t, s: None,
                  search_space=lambda t, n: {}, default_config=lambda t, n: {})
    fields.update(overrides)
    return ModelSpec(**fields)


def _plugin(name: str, **hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(__name__=name, **{k: hookimpl(v) for k, v in hooks.items()})


def test_builtins_come_through_the_entry_point_group():
    registry = load_registry()
    assert BUILTIN_MODELS <= set(registry.models)
    assert {"numeric", "integer", "categorical", "datetime"} <= set(registry.features)
    assert {"random", "grid"} <= set(registry.searchers)
    for reg in registry.all():
        if reg.name in BUILTIN_MODELS | {"random", "grid"}:
            assert reg.distribution == "automl-guide" and reg.version
            assert not reg.spec.build.__module__.startswith("plugins.")
            assert reg.spec.build.__module__.startswith("automl_guide_plugins.")


def test_without_entry_points_only_in_process_plugins_load():
    def automl_guide_register_models(register):
        register(_model("toy"))

    registry = load_registry([_plugin("mine", automl_guide_register_models=automl_guide_register_models)],
                             load_entrypoints=False)
    assert list(registry.models) == ["toy"]
    assert registry.models["toy"].distribution == IN_PROCESS
    assert registry.models["toy"].plugin == "mine"


def test_duplicate_name_names_both_plugins():
    def automl_guide_register_models(register):
        register(_model("xgboost"))

    with pytest.raises(PluginError, match=r"'copycat'.*'xgboost'.*plugin 'xgboost' \(distribution "
                                          r"automl-guide"):
        load_registry([_plugin("copycat", automl_guide_register_models=automl_guide_register_models)])


def test_missing_required_field_is_named():
    def automl_guide_register_models(register):
        register(ModelSpec(name="half", tasks=frozenset({"binary"})))

    with pytest.raises(PluginError, match=r"plugin 'halfdone'.*'half' without the required "
                                          r"field\(s\) build, search_space, default_config"):
        load_registry([_plugin("halfdone", automl_guide_register_models=automl_guide_register_models)],
                      load_entrypoints=False)


def test_wrong_spec_type_and_bad_values_are_rejected():
    def wrong_type(register):
        register({"name": "dict"})

    def bad_task(register):
        register(_model("odd", tasks=frozenset({"ranking?"})))

    def bad_kind(register):
        register(FeatureSpec("f", frozenset({"audio"}), build=lambda cols, ctx: None))

    for hook, hook_name, pattern in [
            (wrong_type, "automl_guide_register_models", "registered a dict where"),
            (bad_task, "automl_guide_register_models", "unknown tasks"),
            (bad_kind, "automl_guide_register_features", "unknown kinds")]:
        with pytest.raises(PluginError, match=pattern):
            load_registry([_plugin("bad", **{hook_name: hook})], load_entrypoints=False)


def test_hookimpl_matching_no_spec_is_an_error_naming_the_plugin():
    def automl_guide_register_modles(register):  # the typo this check exists for
        pass

    with pytest.raises(PluginError, match=r"plugin 'typo'.*automl_guide_register_modles"):
        load_registry([_plugin("typo", automl_guide_register_modles=automl_guide_register_modles)],
                      load_entrypoints=False)


def test_plugin_that_crashes_while_registering_is_reported_and_others_load():
    def automl_guide_register_searchers(register):
        register(SearcherSpec("half", build=lambda problem: None))
        raise RuntimeError("boom")

    def fine(register):
        register(SearcherSpec("fine", build=lambda problem: None))

    with pytest.warns(RuntimeWarning, match=r"^plugin 'crashy' \(distribution <in-process>\) "
                      r"was skipped: .*RuntimeError: boom"):
        registry = load_registry([
            _plugin("crashy", automl_guide_register_searchers=automl_guide_register_searchers),
            _plugin("ok", automl_guide_register_searchers=fine)])
    assert "fine" in registry.searchers and BUILTIN_MODELS <= set(registry.models)
    assert [b.plugin for b in registry.broken] == ["crashy"]
    assert "half" not in registry.searchers  # what it registered before it raised is dropped


def test_unknown_plugin_name_lists_the_choices():
    with pytest.raises(PluginError, match="registered models: .*xgboost"):
        load_registry().model("catboost")


def test_an_installed_plugin_with_a_bad_registration_is_skipped_and_the_rest_load(monkeypatch,
                                                                                capsys):
    """A package's mistake (a model name a built-in has, a hook name with a typo, a hook without
    @hookimpl) costs that
    plugin, listed as BROKEN with a warning naming it, never every command: in-process plugins
    (the author calling) still raise, as the tests above show."""
    import importlib.metadata as md

    real = md.entry_points

    class FakeDist:
        metadata = {"Name": "someone-elses-plugin"}
        version = "9.9"

    fakes = [md.EntryPoint(name, module, "automl_guide") for name, module in
             (("intruder", "duplicate_linear_plugin"), ("typo", "typo_hook_plugin"),
              ("bare", "undecorated_plugin"))]
    fakes = [f._for(FakeDist()) if hasattr(f, "_for") else f for f in fakes]

    def entry_points(**kwargs):
        found = list(real(**kwargs))
        return found + fakes if kwargs.get("group") == "automl_guide" else found

    monkeypatch.setattr(md, "entry_points", entry_points)
    with pytest.warns(RuntimeWarning) as caught:
        registry = load_registry()
    said = " | ".join(str(w.message) for w in caught)
    assert re.search(r"plugin 'intruder' \(distribution someone-elses-plugin 9.9\) was skipped: "
                     r".*'linear', which plugin 'linear' \(distribution automl-guide", said), said
    assert re.search(r"plugin 'typo' .*was skipped: .*automl_guide_register_model\b.*Hook "
                     r"names: automl_guide_register_models", said), said
    assert re.search(r"plugin 'bare' .*was skipped: its module implements no hook: hook "
                     r"functions need the @automl_guide.hookimpl decorator", said), said
    assert sorted(b.plugin for b in registry.broken) == ["bare", "intruder", "typo"]
    assert registry.models["linear"].distribution == "automl-guide"  # the built-in, untouched
    # nothing of a skipped plugin is kept: the model it registered before its mistake is gone
    assert BUILTIN_MODELS <= set(registry.models) and "borrowed" not in registry.models
    from automl_guide.cli import main

    with pytest.warns(RuntimeWarning):
        assert main(["plugins"]) == 0  # `automl-guide plugins` lists them as BROKEN
    listed = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[1] for line in listed if line.startswith("BROKEN ")) == [
        "bare", "intruder", "typo"]
    assert any(line.startswith("BROKEN bare (someone-elses-plugin 9.9): its module implements "
                               "no hook") for line in listed)
    assert {"linear", "xgboost"} <= {line.split()[0] for line in listed}  # the rest load
    monkeypatch.setenv(DISABLE_EXTERNAL_ENV, "1")  # or load only automl-guide's own plugins
    registry = load_registry()
    assert BUILTIN_MODELS <= set(registry.models) and not registry.broken


def test_feature_plugin_with_higher_priority_replaces_the_builtin_for_its_kind():
    from sklearn.preprocessing import OrdinalEncoder

    from automl_guide.columns import ColumnInfo
    from automl_guide.pipeline import feature_plan

    def automl_guide_register_features(register):
        register(FeatureSpec("ordinal", frozenset({"categorical"}),
                             build=lambda cols, ctx: OrdinalEncoder(), priority=10))

    registry = load_registry([_plugin("ordinal_plugin",
                                      automl_guide_register_features=automl_guide_register_features)])
    columns = [ColumnInfo("shop city", "shop_city", "categorical"), ColumnInfo("n", "n", "integer")]
    plan = feature_plan(registry, columns)
    assert plan["ordinal"][1] == ["shop_city"] and plan["integer"][1] == ["n"]
    assert "categorical" not in plan
