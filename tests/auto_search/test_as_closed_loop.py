"""With an environment and a teacher: paired, sequential closed-loop scores with intervals, a
choice on the lower bound, DAgger on training rows only, and figures of the student that ships."""

from __future__ import annotations

import numpy as np
import pytest
from _toy_env import EasyOrHard, teacher_proba

from auto_search.closed_loop import PairedEpisodes, retention, retention_bound
from auto_search.search import AutoDistill
from hybrid.data.dataset import DistillDataset
from hybrid.envs.adapter import episode_seeds, run_episodes
from hybrid.loop.bounds import ReturnRange
from hybrid.loop.rollouts import collect
from hybrid.teachers.adapters import as_teacher


@pytest.fixture(scope="module")
def cartpole_teacher():
    from hybrid.teachers.zoo import load_teacher

    return load_teacher("CartPole-v1")


@pytest.fixture(scope="module")
def cartpole_result(cartpole_teacher):
    rollouts = collect("CartPole-v1", cartpole_teacher, episodes=3, seed=0)
    search = AutoDistill(
        families=("tree",), budget_s=120, n_jobs=1, env="CartPole-v1", teacher=cartpole_teacher, dagger_iterations=2, closed_loop_max_episodes=10, verbose=0
    )
    return search.fit(rollouts), rollouts.dataset  # fit takes what collect returns


def test_pareto_candidates_get_paired_scores_with_intervals(cartpole_result):
    r, _ = cartpole_result
    front = sorted(r.pareto_candidates, key=lambda c: c.ops_per_decision)
    scored = [c for c in front if c.retention is not None]
    assert scored and all(c.retention_low <= c.retention <= c.retention_high and c.loop_episodes >= 5 for c in scored)
    assert all(c.retention is None for c in r.candidates if c.id not in r.pareto)
    # scored cheapest first; once one clears the bar, costlier students cannot be chosen and are not rolled out
    assert scored == front[: len(scored)]
    if len(scored) < len(front):
        assert scored[-1].retention_low >= 0.99 or r.closed_loop["cut_by_budget"]
    loop = r.closed_loop
    assert loop["teacher_return"] > loop["random_return"] and loop["confidence"] == 0.95


def test_the_default_policy_with_an_environment_chooses_by_return_and_says_so(cartpole_result):
    r, _ = cartpole_result
    assert r.config.policy == "min-retention:0.99" and "policy auto" in r.policy_note
    assert r.chosen.retention_low >= 0.99 or "no Pareto student" in r.choice


def test_no_held_out_row_is_in_the_data_the_shipped_student_was_fitted_on(cartpole_result, cartpole_teacher, monkeypatch):
    """DAgger rounds refit on training rows and visited states only, and the shipped figures
    are the shipped student's own agreement on the held-out split."""
    r, dataset = cartpole_result
    _train, val = dataset.split(r.config.val_fraction, r.config.seed)
    seen: list[np.ndarray] = []
    from hybrid.students.tree import TreeStudent

    original = TreeStudent.fit

    def spy(self, X, P, sample_weight=None, **kw):
        seen.append(np.asarray(X).copy())
        return original(self, X, P, sample_weight, **kw)

    monkeypatch.setattr(TreeStudent, "fit", spy)
    search = AutoDistill(
        families=("tree",),
        budget_s=120,
        n_jobs=1,
        backend="threading",
        env="CartPole-v1",
        teacher=cartpole_teacher,
        dagger_iterations=2,
        closed_loop_max_episodes=10,
        verbose=0,
    )
    result = search.fit(dataset)
    assert seen, "no fit was observed"
    val_rows = {row.tobytes() for row in val.X}
    assert not any(row.tobytes() in val_rows for X in seen for row in X)
    agreement = float(np.mean(result.student.predict(val.X) == val.P.argmax(axis=1)))
    assert result.shipped.fidelity == pytest.approx(agreement)
    assert result.to_data()["shipped"]["fidelity"] == pytest.approx(agreement)


def test_report_carries_chosen_and_shipped_figures(cartpole_result, tmp_path):
    r, _ = cartpole_result
    data = r.to_data()
    assert data["chosen"]["id"] == r.chosen.id and data["chosen"]["content_hash"] == r.chosen.content_hash
    assert data["shipped"]["content_hash"] == r.student.content_hash
    assert data["shipped"]["ops_per_decision"] == pytest.approx(r.student.cost().ops_per_decision)
    loop = data["shipped"]["loop"]
    assert loop["seeds"] == "confirmation" and loop["retention_low"] <= loop["retention"] <= loop["retention_high"]
    r.write_report(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "Chosen and shipped" in text and "fresh episodes" in text


def test_old_names_point_to_the_new_ones(cartpole_result):
    r, _ = cartpole_result
    with pytest.raises(AttributeError, match=r"result\.student"):
        _ = r.best_student
    with pytest.raises(AttributeError, match=r"result\.chosen"):
        _ = r.best


def test_retention_is_normalised_between_random_and_teacher():
    assert retention(500.0, 500.0, 20.0) == 1.0 and retention(20.0, 500.0, 20.0) == 0.0
    assert retention(260.0, 500.0, 20.0) == pytest.approx(0.5) and retention(7.0, 7.0, 7.0) == 1.0


def test_retention_bound_uses_the_differences_not_the_spread_of_returns():
    rng = np.random.default_rng(0)
    teacher = rng.uniform(100.0, 400.0, size=600)
    student = teacher - rng.uniform(1.0, 2.0, size=600)  # big spread of returns, tiny spread of differences
    random = np.zeros(600)
    scale = ReturnRange(0.0, 500.0, "declared")
    b = retention_bound(student, teacher, random, scale, 0.95)
    assert b.retention == pytest.approx(1 - np.mean(teacher - student) / np.mean(teacher))
    assert b.low < b.retention < b.high and b.high - b.low < 0.05
    one = retention_bound(student[:1], teacher[:1], random[:1], scale, 0.95)
    assert one.high - one.low > 1.0  # one episode says next to nothing


def test_sequential_scoring_adds_episodes_until_the_bound_decides_the_bar():
    env = EasyOrHard(c=0.5)
    teacher = as_teacher(teacher_proba(0.5), ["left", "right"])
    with PairedEpisodes(env, teacher, seed=0, first=5, cap=4000, confidence=0.95, return_range=(0, 20)) as episodes:
        perfect = episodes.score(teacher, bar=0.99)
        assert perfect.retention == 1.0 and perfect.retention_low >= 0.99  # a pass, once its episodes can show it...
        assert 5 < perfect.episodes < 4000  # ...which five identical differences cannot, and it stops when they do
        poor = episodes.score(as_teacher(teacher_proba(0.0), ["left", "right"]), bar=0.99)
        assert poor.screen_high < 0.99 and poor.episodes < perfect.episodes  # a clear failure is given up early (no claim)
        assert poor.retention_low < poor.retention


def test_to_cap_scoring_without_a_bar_runs_every_episode_the_cap_allows():
    env = EasyOrHard(c=0.5)
    teacher = as_teacher(teacher_proba(0.5), ["left", "right"])
    with PairedEpisodes(env, teacher, seed=0, first=5, cap=20, confidence=0.95) as episodes:
        assert episodes.score(teacher, to_cap=True).episodes == 20
    with PairedEpisodes(env, teacher, seed=0, first=5, cap=20, confidence=0.95, deadline=0.0) as late:
        assert late.score(teacher, to_cap=True).episodes == 5 and late.cut  # the deadline still stops it


def test_confirmation_runs_until_its_bound_decides_and_dagger_starts_from_every_training_row(cartpole_result):
    r, dataset = cartpole_result
    loop = r.closed_loop
    train, _ = dataset.split(r.config.val_fraction, r.config.seed)
    assert loop["dagger"]["training_rows"] == len(train)
    assert all(d["n_train"] > len(train) for d in loop["dagger"]["rounds"])  # every training row plus visited states
    claim = r.shipped.claim
    decided = claim["bound_met"] or claim["high"] < claim["bar"]
    assert decided or loop["confirmation"]["cut_by_budget"] or claim["episodes"] == r.config.closed_loop_max_episodes


def _lucky_seed(c: float, bar: float) -> int:
    """A search seed whose first 3 selection episodes rate a depth-1 tree on x0 at ≥ ``bar``."""
    env = EasyOrHard(c=c)
    teacher = as_teacher(teacher_proba(c), ["left", "right"])
    stump = as_teacher(teacher_proba(0.0), ["left", "right"])
    for seed in range(200):
        seeds = episode_seeds(seed, 3)
        s = [sum(r) for r in run_episodes(env, lambda x: int(stump.predict(x[None])[0]), seeds)[1]]
        t = [sum(r) for r in run_episodes(env, lambda x: int(teacher.predict(x[None])[0]), seeds)[1]]
        env.action_space.seed(0)
        if retention(np.mean(s), np.mean(t), 10.0) >= bar:
            return seed
    raise AssertionError("no lucky seed among 200")


def _toy_dataset(c: float, n: int = 3000) -> DistillDataset:
    rng = np.random.default_rng(1)
    X = np.stack([rng.normal(size=n), rng.normal(size=n) * np.where(rng.random(n) < 0.3, 3.0, 0.05)], axis=1).astype(np.float32)
    return DistillDataset(X, teacher_proba(c)(X).astype(np.float32), ["left", "right"], ["x0", "x1"])


@pytest.mark.parametrize("c", [0.5])
def test_a_cheap_student_lucky_on_three_episodes_is_not_chosen(c):
    seed = _lucky_seed(c, 0.99)
    teacher = as_teacher(teacher_proba(c), ["left", "right"])
    result = AutoDistill(families=("tree",), budget_s=120, n_jobs=1, env=EasyOrHard(c=c), teacher=teacher, seed=seed, dagger_iterations=0, verbose=0).fit(
        _toy_dataset(c)
    )
    stump = next(c for c in result.candidates if c.params.get("max_depth") == 1)
    assert result.chosen.params.get("max_depth") != 1
    if stump.id in result.pareto:  # scored: its interval, with more episodes, does not clear the bar
        assert stump.retention_low < 0.99 and stump.loop_episodes > 3
    assert result.chosen.retention_low >= 0.99 or "no Pareto student" in result.choice


def test_a_truly_good_cheap_student_is_still_chosen():
    teacher = as_teacher(teacher_proba(0.0), ["left", "right"])  # the rule needs x0 only: a stump is exact
    search = AutoDistill(
        families=("tree",),
        budget_s=120,
        n_jobs=1,
        env=EasyOrHard(c=0.0),
        teacher=teacher,
        dagger_iterations=0,
        return_range=(0, 20),
        closed_loop_max_episodes=4000,
        verbose=0,
    )
    result = search.fit(_toy_dataset(0.0))
    assert result.chosen.params.get("max_depth") == 1 and result.chosen.retention_screen >= 0.99  # its screen passes the selection
    assert result.shipped.bound_met and result.shipped.loop["retention_low"] >= 0.99  # and it holds on fresh episodes


def test_min_retention_refuses_to_run_without_an_environment(cartpole_result):
    from auto_search.policies import MinRetention

    _, dataset = cartpole_result
    with pytest.raises(Exception, match="env=… and teacher=…"):
        AutoDistill(families=("tree",), policy=MinRetention(0.99), verbose=0).fit(dataset)
