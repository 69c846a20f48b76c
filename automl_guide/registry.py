"""Plugin discovery and validation.

Built-in and third-party plugins alike are found through the ``automl_guide`` entry-point group
(``pluggy``'s host pattern). Each hook implementation is called on its own, with a ``register``
callable bound to its plugin, so every spec is validated as it arrives and every error names the
plugin and distribution that caused it. Set ``AUTOML_GUIDE_DISABLE_EXTERNAL_PLUGINS=1`` to load only
automl-guide's own plugins.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pluggy

from . import hookspecs
from .errors import PluginError
from .specs import (COLUMN_KINDS, SHOP_LEVELS, TASKS, FeatureSpec, ModelSpec, Registered,
                    SearcherSpec, ShopFeatureSpec)

ENTRY_POINT_GROUP = "automl_guide"
DISABLE_EXTERNAL_ENV = "AUTOML_GUIDE_DISABLE_EXTERNAL_PLUGINS"
OWN_DISTRIBUTION = "automl-guide"
IN_PROCESS = "<in-process>"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

# hook name -> (kind, spec class, fields that must be set)
HOOKS: Mapping[str, tuple[str, type, tuple[str, ...]]] = {
    "automl_guide_register_models": (
        "model", ModelSpec, ("name", "tasks", "build", "search_space", "default_config")),
    "automl_guide_register_features": ("feature", FeatureSpec, ("name", "kinds", "build")),
    "automl_guide_register_searchers": ("searcher", SearcherSpec, ("name", "build")),
    "automl_guide_register_shop_features": (
        "shop_feature", ShopFeatureSpec, ("name", "level", "compute")),
}


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin whose own code raised while loading or registering; the others still load."""

    plugin: str
    distribution: str
    version: str
    error: str


@dataclass(frozen=True)
class PluginRegistry:
    """Everything the loaded plugins registered, by kind and name."""

    models: Mapping[str, Registered]
    features: Mapping[str, Registered]
    searchers: Mapping[str, Registered]
    broken: tuple[BrokenPlugin, ...] = ()
    shop_features: Mapping[str, Registered] = dataclasses.field(default_factory=dict)

    def all(self) -> list[Registered]:
        return [*self.models.values(), *self.features.values(), *self.searchers.values(),
                *self.shop_features.values()]

    def model(self, name: str) -> ModelSpec:
        return self._get(self.models, name, "model").spec

    def searcher(self, name: str) -> SearcherSpec:
        return self._get(self.searchers, name, "searcher").spec

    @staticmethod
    def _get(table: Mapping[str, Registered], name: str, kind: str) -> Registered:
        if name not in table:
            raise PluginError(
                f"No {kind} plugin named {name!r}; registered {kind}s: {', '.join(sorted(table))}. "
                "Run `automl-guide plugins` to see every plugin and the package that provides it.")
        return table[name]


@dataclass(frozen=True)
class _Origin:
    plugin: str
    distribution: str
    version: str

    def describe(self) -> str:
        where = " ".join(part for part in (self.distribution, self.version) if part)
        return f"plugin {self.plugin!r} (distribution {where})"


def _entry_points(include_external: bool) -> list[importlib.metadata.EntryPoint]:
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    chosen = [ep for ep in eps if include_external or _dist_name(ep) == OWN_DISTRIBUTION]
    return sorted(chosen, key=lambda ep: (_dist_name(ep) != OWN_DISTRIBUTION, ep.name))


def _dist_name(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower() if dist else "unknown"


def _dist_version(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist else ""


def external_plugins_disabled() -> bool:
    return os.environ.get(DISABLE_EXTERNAL_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def get_plugin_manager(
    plugins: Iterable[Any] = (), *, load_entrypoints: bool = True
) -> tuple[pluggy.PluginManager, dict[str, _Origin], list[BrokenPlugin]]:
    """A fresh plugin manager with the entry-point plugins and ``plugins`` registered.

    Returns the manager, where each registered plugin came from, and the plugins whose import
    raised (reported, not fatal).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    origins: dict[str, _Origin] = {}
    broken: list[BrokenPlugin] = []
    if load_entrypoints:
        for ep in _entry_points(include_external=not external_plugins_disabled()):
            origin = _Origin(ep.name, _dist_name(ep), _dist_version(ep))
            try:
                module = ep.load()
            except Exception as exc:  # a plugin's own bug must not take the others down
                broken.append(_broken(origin, f"import failed: {type(exc).__name__}: {exc}"))
                continue
            try:
                _register(pm, module, origin, origins)
            except PluginError as exc:  # an installed package's mistake: it alone is skipped
                broken.append(_broken(origin, str(exc)))
                continue
            if not pm.get_hookcallers(module):  # not an error to pluggy, but surely a mistake
                pm.unregister(module)
                origins.pop(f"{origin.distribution}:{origin.plugin}", None)
                broken.append(_broken(origin, "its module implements no hook: hook functions "
                                      "need the @automl_guide.hookimpl decorator and one of the "
                                      f"names {', '.join(HOOKS)}"))
    for index, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        _register(pm, plugin, _Origin(name, IN_PROCESS, ""), origins)
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            key = pm.get_name(exc.plugin) or ""
            origin = origins.get(key, _Origin(str(exc.plugin), "?", ""))
            error = f"{exc}. Hook names: {', '.join(HOOKS)}."
            if origin.distribution == IN_PROCESS:  # the author is the caller: tell them now
                raise PluginError(f"{origin.describe()}: {error}") from None
            pm.unregister(name=key)  # an installed package's typo: it alone is skipped
            origins.pop(key, None)
            broken.append(_broken(origin, error))
    return pm, origins, broken


def _register(pm: pluggy.PluginManager, plugin: Any, origin: _Origin, origins: dict) -> None:
    key = f"{origin.distribution}:{origin.plugin}"
    if pm.has_plugin(key):
        raise PluginError(f"{origin.describe()} is registered twice.")
    try:
        pm.register(plugin, name=key)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{origin.describe()}: {exc}") from None
    except ValueError:  # the same module behind two entry points
        other = next(n for n, p in pm.list_name_plugin() if p is plugin)
        raise PluginError(f"{origin.describe()} points at the module that {other!r} already "
                          "registered.") from None
    origins[key] = origin


def _broken(origin: _Origin, error: str) -> BrokenPlugin:
    warnings.warn(f"{origin.describe()} was skipped: {error}", RuntimeWarning, stacklevel=3)
    return BrokenPlugin(origin.plugin, origin.distribution, origin.version, error)


def load_registry(plugins: Iterable[Any] = (), *, load_entrypoints: bool = True) -> PluginRegistry:
    """Discover plugins, call their hooks and validate every registration.

    :param plugins: extra plugin objects or modules to register in-process (tests, notebooks).
    :param load_entrypoints: ``False`` loads only ``plugins``.
    :raises PluginError: a duplicate name, a missing or invalid field, or an unknown hook in one
        of ``plugins``. An installed (entry-point) plugin with such a mistake is skipped instead,
        with a warning, and listed in ``broken``: another package's bug must not stop every run.
    """
    pm, origins, broken = get_plugin_manager(plugins, load_entrypoints=load_entrypoints)
    tables: dict[str, dict[str, Registered]] = {"model": {}, "feature": {}, "searcher": {},
                                                "shop_feature": {}}
    skipped: set[str] = set()  # installed plugins found broken: nothing of theirs is kept
    for hook_name, (kind, spec_type, required) in HOOKS.items():
        impls = getattr(pm.hook, hook_name).get_hookimpls()
        # automl-guide's own first whatever pluggy's order (trylast): a name an installed plugin
        # takes twice is always that plugin's mistake, never a built-in's
        impls.sort(key=lambda i: origins[i.plugin_name].distribution != OWN_DISTRIBUTION)
        for impl in impls:
            if impl.plugin_name in skipped:
                continue
            origin = origins[impl.plugin_name]

            def register(spec: Any, *, _o=origin, _k=kind, _t=spec_type, _r=required) -> None:
                _validate(spec, _o, _k, _t, _r, tables[_k])
                tables[_k][spec.name] = Registered(
                    spec, _k, _o.plugin, _o.distribution, _o.version)

            kwargs = {"register": register}
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except PluginError as exc:
                if origin.distribution == IN_PROCESS:  # the author is the caller: tell them now
                    raise
                broken.append(_broken(origin, str(exc)))  # an installed package's mistake
                skipped.add(impl.plugin_name)
                _drop(tables, origin)
            except Exception as exc:  # its own bug: it is skipped whole, as above
                broken.append(_broken(origin, f"{hook_name} raised {type(exc).__name__}: {exc}"))
                skipped.add(impl.plugin_name)
                _drop(tables, origin)
    return PluginRegistry(tables["model"], tables["feature"], tables["searcher"], tuple(broken),
                          tables["shop_feature"])


def _drop(tables: Mapping[str, dict[str, Registered]], origin: _Origin) -> None:
    """Forget everything ``origin`` registered (it turned out broken half way)."""
    for table in tables.values():
        for name in [n for n, r in table.items()
                     if (r.plugin, r.distribution) == (origin.plugin, origin.distribution)]:
            del table[name]


def _validate(spec: Any, origin: _Origin, kind: str, spec_type: type, required: tuple[str, ...],
              table: Mapping[str, Registered]) -> None:
    where = origin.describe()
    if not isinstance(spec, spec_type):
        raise PluginError(f"{where} registered a {type(spec).__name__} where automl_guide."
                          f"{spec_type.__name__} was expected.")
    missing = [f for f in required if not getattr(spec, f)]
    if missing:
        raise PluginError(f"{where} registered {kind} {spec.name or '<unnamed>'!r} without the "
                          f"required field(s) {', '.join(missing)}.")
    if not _NAME.match(spec.name):
        raise PluginError(f"{where} registered {kind} name {spec.name!r}: names use letters, "
                          "digits, '_', '-' and '.' and start with a letter or digit.")
    if spec.name in table:
        other = table[spec.name]
        raise PluginError(
            f"{where} registered {kind} {spec.name!r}, which plugin {other.plugin!r} (distribution "
            f"{other.distribution} {other.version}) already registered. Rename one, or set "
            f"{DISABLE_EXTERNAL_ENV}=1 to load only the built-in plugins.")
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if f.name in {"build", "search_space", "default_config", "portfolio", "register_onnx",
                      "compute"} \
                and value is not None and not callable(value):
            raise PluginError(f"{where}: field {f.name!r} of {kind} {spec.name!r} is not callable.")
    if kind == "shop_feature" and spec.level not in SHOP_LEVELS:
        raise PluginError(f"{where}: shop feature {spec.name!r} has level {spec.level!r}; "
                          f"allowed: {sorted(SHOP_LEVELS)}.")
    allowed = {"tasks": TASKS, "kinds": COLUMN_KINDS}
    for f, values in allowed.items():
        given = getattr(spec, f, None)
        if given is not None and not set(given) <= values:
            raise PluginError(f"{where}: {kind} {spec.name!r} has unknown {f} "
                              f"{sorted(set(given) - values)}; allowed: {sorted(values)}.")
