"""The hooks a plugin implements.

A plugin is a module (or object) with functions decorated by ``automl_guide.hookimpl`` and named
as below, made known through the ``automl_guide`` entry-point group of its distribution::

    [project.entry-points.automl_guide]
    my_models = "my_package.models"

Each hook receives a ``register`` callable and calls it once per thing it provides. Hooks are
called with keyword arguments, one plugin at a time, so that every registration can be traced
back to the plugin and distribution that made it; the return value is ignored. An implementation
may accept fewer arguments than its spec (pluggy's rule), which lets new arguments be added later
without breaking plugins. A registration is validated at once: a duplicate name, a missing or
ill-typed field, or a hook function that matches no spec below raises
:class:`automl_guide.errors.PluginError` naming the plugin and its distribution.
"""
from __future__ import annotations

import pluggy

PROJECT = "automl_guide"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


@hookspec
def automl_guide_register_models(register):
    """Register model families the search can try.

    :param register: call ``register(ModelSpec(...))`` once per model family. The spec gives the
        name, supported tasks, a Ray Tune search space, a strong default configuration, an
        estimator factory and, unless skl2onnx converts the estimator, its ONNX conversion.

    Called once per plugin when the registry loads; all calls are made, none stops the others.
    """


# --------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------


@hookspec
def automl_guide_register_features(register):
    """Register preprocessing for column kinds (numeric, categorical, datetime, ...).

    :param register: call ``register(FeatureSpec(...))`` once per feature plugin. For each column
        kind the registered spec with the highest ``priority`` builds the transformer, which must
        convert to ONNX (its converters registered by ``FeatureSpec.register_onnx`` if custom).

    Called once per plugin when the registry loads; all calls are made, none stops the others.
    """


@hookspec
def automl_guide_register_shop_features(register):
    """Register features of customers, products and customer x product pairs, computed from the
    shop's history before a cutoff (RFM, popularity, what a customer did with a product).

    :param register: call ``register(ShopFeatureSpec(...))`` once per feature group. Its
        ``compute(history, keys)`` must use only ``history`` (everything before the cutoff), so
        the training tables stay free of leakage.

    Called once per plugin when the registry loads; all calls are made, none stops the others.
    """


# --------------------------------------------------------------------------------------------------
# Searchers
# --------------------------------------------------------------------------------------------------


@hookspec
def automl_guide_register_searchers(register):
    """Register search strategies selectable with ``searcher=NAME``.

    :param register: call ``register(SearcherSpec(...))`` once per strategy. Its ``build(problem)``
        returns an object with Ray Tune's ``Searcher`` shape (``suggest``/``on_trial_complete``).

    Called once per plugin when the registry loads; all calls are made, none stops the others.
    """
