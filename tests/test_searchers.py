"""The built-in searchers, without Ray: what they propose and in which order."""
from __future__ import annotations

from ray import tune

from automl_guide import SearchProblem, load_registry

REGISTRY = load_registry()


def _problem(max_trials=None, seed=0) -> SearchProblem:
    spaces = {"a": {"x": tune.loguniform(1e-3, 1e3), "k": tune.choice(["p", "q"])},
              "b": {"n": tune.qrandint(10, 100, 10)}}
    defaults = {"a": {"x": 1.0, "k": "p"}, "b": {"n": 50}}
    return SearchProblem(spaces, defaults, "roc_auc", "max", seed, max_trials)


def _drain(searcher, limit=1000):
    out = []
    while len(out) < limit:
        config = searcher.suggest(str(len(out)))
        if config is None:
            return out
        out.append(config)
    return out


def test_random_tries_defaults_first_then_valid_distinct_samples():
    configs = _drain(REGISTRY.searcher("random").build(_problem(max_trials=30)))
    assert configs[:2] == [{"model": "a", "x": 1.0, "k": "p"}, {"model": "b", "n": 50}]
    assert len(configs) == 30
    assert len({str(sorted(c.items())) for c in configs}) == 30
    for c in configs[2:]:
        if c["model"] == "a":
            assert 1e-3 <= c["x"] <= 1e3 and c["k"] in {"p", "q"}
        else:
            assert 10 <= c["n"] <= 100 and c["n"] % 10 == 0
    assert {c["model"] for c in configs[2:]} == {"a", "b"}


def test_random_is_reproducible_by_seed():
    first = _drain(REGISTRY.searcher("random").build(_problem(max_trials=12, seed=3)))
    again = _drain(REGISTRY.searcher("random").build(_problem(max_trials=12, seed=3)))
    other = _drain(REGISTRY.searcher("random").build(_problem(max_trials=12, seed=4)))
    assert first == again and first != other


def test_grid_interleaves_families_and_ends():
    configs = _drain(REGISTRY.searcher("grid").build(_problem()))
    grid = configs[2:]
    assert [c["model"] for c in grid[:4]] == ["a", "b", "a", "b"]
    a_points = {(c["x"], c["k"]) for c in grid if c["model"] == "a"}
    assert a_points == {(x, k) for x in (1e-3, 1.0, 1e3) for k in ("p", "q")} - {(1.0, "p")}
    assert sorted(c["n"] for c in grid if c["model"] == "b") == [10, 100]  # 50 = the default
    assert REGISTRY.searcher("grid").build(_problem()).suggest("0") is not None


def test_searchers_survive_pickling_as_ray_tune_does():
    import pickle

    for name in ("random", "grid"):
        searcher = REGISTRY.searcher(name).build(_problem(max_trials=5))
        searcher.suggest("0")
        clone = pickle.loads(pickle.dumps(searcher))
        assert clone.suggest("1") == searcher.suggest("1")
