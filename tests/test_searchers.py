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
    fresh = REGISTRY.searcher("grid").build(_problem())
    assert [fresh.suggest(str(i)) for i in range(len(configs))] == configs  # the same order
    assert fresh.suggest("last") is None  # and the grid ends


def test_searchers_survive_pickling_as_ray_tune_does():
    import pickle

    for name in ("random", "grid", "evolution"):
        searcher = REGISTRY.searcher(name).build(_problem(max_trials=5))
        searcher.suggest("0")
        clone = pickle.loads(pickle.dumps(searcher))
        assert clone.suggest("1") == searcher.suggest("1")


def _objective(config: dict) -> float:
    """Best at family a with x = 10 and k = q; family b is mediocre everywhere."""
    import math

    if config["model"] == "b":
        return 0.5 - abs(config["n"] - 50) / 1000
    return 1.0 - (math.log10(config["x"]) - 1.0) ** 2 / 10 - (0.2 if config["k"] == "p" else 0.0)


def _run_with_feedback(name: str, n: int, seed: int = 0) -> list[tuple[dict, float]]:
    searcher = REGISTRY.searcher(name).build(_problem(seed=seed))
    history = []
    for i in range(n):
        config = searcher.suggest(str(i))
        score = _objective(config)
        searcher.on_trial_complete(str(i), {"score": score, "status": "ok"})
        history.append((config, score))
    return history


def test_learning_searchers_respect_the_conditional_space_and_try_defaults_first():
    for name in ("tpe", "evolution"):
        history = _run_with_feedback(name, 30)
        assert [c for c, _ in history[:2]] == [{"model": "a", "x": 1.0, "k": "p"},
                                               {"model": "b", "n": 50}], name
        for config, _ in history:
            keys = {"x", "k"} if config["model"] == "a" else {"n"}
            assert set(config) - {"model"} == keys, (name, config)


def test_learning_searchers_improve_on_random_search():
    import numpy as np

    for name in ("tpe", "evolution"):
        late, random_late = [], []
        for seed in range(3):
            late += [s for _, s in _run_with_feedback(name, 60, seed)[40:]]
            random_late += [s for _, s in _run_with_feedback("random", 60, seed)[40:]]
        assert np.mean(late) > np.mean(random_late) + 0.05, (name, np.mean(late),
                                                              np.mean(random_late))


def test_failed_trials_do_not_break_learning_searchers():
    for name in ("tpe", "evolution"):
        searcher = REGISTRY.searcher(name).build(_problem())
        for i in range(15):
            searcher.suggest(str(i))
            searcher.on_trial_complete(str(i), {"score": float("nan"), "status": "error"},
                                       error=(i % 2 == 0))
        assert searcher.suggest("last")["model"] in {"a", "b"}


def _portfolio_problem(**kw) -> SearchProblem:
    base = _problem(**kw)
    spaces = {**base.spaces, "b": {"n": tune.uniform(10, 100)}, "c": {"z": tune.uniform(0, 1)}}
    return SearchProblem(spaces, {**base.defaults, "c": {"z": 0.5}}, "roc_auc", "max",
                         base.seed, base.max_trials,
                         portfolio={"a": [{"x": 10.0, "k": "q"}, {"x": 0.1, "k": "q"}],
                                    "b": [{"n": 90}]})


def test_portfolio_comes_after_the_defaults_the_leading_family_first():
    searcher = REGISTRY.searcher("random").build(_portfolio_problem())
    defaults = [searcher.suggest(str(i)) for i in range(3)]
    assert [c["model"] for c in defaults] == ["a", "b", "c"]
    for i, score in enumerate((0.6, 0.9, 0.7)):  # b leads, then c, then a
        searcher.on_trial_complete(str(i), {"score": score, "status": "ok"})
    assert searcher.suggest("3") == {"model": "b", "n": 90}
    searcher.on_trial_complete("3", {"score": 0.5, "status": "ok"})  # b still leads at 0.9
    assert searcher.suggest("4") == {"model": "a", "x": 10.0, "k": "q"}  # c has no portfolio
    assert searcher.suggest("5") == {"model": "a", "x": 0.1, "k": "q"}


def test_random_draws_favour_the_leading_family_and_keep_every_family():
    searcher = REGISTRY.searcher("random").build(_portfolio_problem(max_trials=600))
    for i, config in enumerate(_drain(searcher, 6)):  # defaults and portfolio
        searcher.on_trial_complete(str(i), {"score": {"a": 0.6, "b": 0.7, "c": 0.9}[
            config["model"]], "status": "ok"})
    families = [searcher.suggest(f"s{i}")["model"] for i in range(594)]
    share = {f: families.count(f) / len(families) for f in "abc"}
    # 1/6 evenly + 1/2 x (4/7, 2/7, 1/7) by rank: c 0.45, b 0.31, a 0.24
    assert share["c"] > 0.4 and share["c"] > share["b"] > share["a"] and share["a"] < 0.3, share


def test_tpe_tries_the_portfolio_after_the_defaults():
    searcher = REGISTRY.searcher("tpe").build(_portfolio_problem())
    configs = [searcher.suggest(str(i)) for i in range(6)]
    assert configs[3:] == [{"model": "a", "x": 10.0, "k": "q"}, {"model": "b", "n": 90},
                           {"model": "a", "x": 0.1, "k": "q"}]


def test_slow_families_get_their_share_of_time_not_of_draws():
    from automl_guide_plugins.searchers import family_weights

    searcher = REGISTRY.searcher("random").build(_portfolio_problem())
    for i, config in enumerate(_drain(searcher, 3)):  # equal scores; c is 10x slower
        searcher.on_trial_complete(str(i), {"score": 0.8, "status": "ok", "fit_seconds": {
            "a": 2.0, "b": 2.0, "c": 20.0}[config["model"]]})
    weights = dict(zip("abc", family_weights(searcher.leaders)))
    assert weights["c"] < weights["a"] / 5 and weights["c"] < weights["b"] / 5, weights


def test_family_scores_keep_each_familys_best_finished_score_in_the_metrics_direction():
    from automl_guide import FamilyScores

    losses = FamilyScores("min")
    for family, result, error in [("a", {"status": "ok", "score": 0.5}, False),
                                  ("a", {"status": "ok", "score": 0.3}, False),
                                  ("b", {"status": "ok", "score": 0.4}, False),
                                  ("c", {"status": "ok", "score": 0.1}, True),  # errored
                                  ("c", {"status": "error", "score": 0.1}, False),
                                  ("c", {"status": "ok", "score": float("nan")}, False),
                                  (None, {"status": "ok", "score": 0.0}, False)]:
        losses.record(family, result, error)
    assert losses.leading() == ["a", "b"] and losses.leading(1) == ["a"]
    assert losses.best == {"a": -0.3, "b": -0.4}
    gains = FamilyScores("max")
    gains.record("a", {"score": 0.7})
    gains.record("b", {"score": 0.9})
    assert gains.leading() == ["b", "a"]
