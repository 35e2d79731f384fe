"""Table-level distinguishability scoring against hand-computed cases (MODEL.md section 4)."""

import numpy as np
import pandas as pd
import pytest

from phantom_lib.behaviour.distinguish import (
    EPS,
    SHORT,
    UNSHARED,
    ScoreConfig,
    encode,
    pair_counts,
    paths_table,
    score_table,
    transition_contributions,
)


def table(sessions: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """A hand-built trajectory table: id -> (actor, events as a string of one-letter events)."""
    rows = [
        {"trajectory": tid, "actor": actor, "is_agent": int(actor == "agent"), "step": i, "event": e}
        for tid, (actor, events) in sessions.items()
        for i, e in enumerate(events)
    ]
    return pd.DataFrame(rows)


def kl(p, q):
    return sum((pk + EPS) * np.log((pk + EPS) / (qk + EPS)) for pk, qk in zip(p, q) if pk > 0)


def row(frame: pd.DataFrame, tid: str) -> pd.Series:
    return frame.set_index("trajectory").loc[tid]


# Events a, b, c (sorted order). Hand counts of each trajectory's event-to-event pairs:
#   h1 "abab": a->b 2, b->a 1        h2 "abc": a->b 1, b->c 1       h3 "c": no pair (short)
#   g1 "aacc": a->a 1, a->c 1, c->c 1              g2 "ccaa": c->c 1, c->a 1, a->a 1
COHORT = {
    "h1": ("human", "abab"),
    "h2": ("human", "abc"),
    "h3": ("human", "c"),
    "g1": ("agent", "aacc"),
    "g2": ("agent", "ccaa"),
}


def test_kl_by_hand_with_zero_destinations_and_missing_sources():
    scores = score_table(table(COHORT), ScoreConfig(loo=True))
    # h1: rows a -> (0, 1, 0), b -> (1, 0, 0).
    # LOO human centroid = h2 alone: a -> (0, 1, 0), b -> (0, 0, 1), c unobserved.
    #   shared sources a, b; b's destination a has q = 0.
    # agent centroid = g1 + g2: a -> (2/3, 0, 1/3), c -> (1/3, 0, 2/3), b unobserved (missing source).
    #   shared source a only; destination b has q = 0.
    h1 = row(scores.frame, "h1")
    expected_h = (kl([0, 1, 0], [0, 1, 0]) + kl([1, 0, 0], [0, 0, 1])) / 2
    expected_a = kl([0, 1, 0], [2 / 3, 0, 1 / 3])
    assert h1["delta_h"] == pytest.approx(expected_h, rel=1e-12)
    assert h1["delta_a"] == pytest.approx(expected_a, rel=1e-12)
    assert h1["gap"] == pytest.approx(expected_h - expected_a, rel=1e-12)
    assert h1["n_events"] == 4


def test_loo_differs_from_in_sample_exactly_where_expected():
    loo = score_table(table(COHORT), ScoreConfig(loo=True)).frame.set_index("trajectory")
    ins = score_table(table(COHORT), ScoreConfig(loo=False)).frame.set_index("trajectory")
    # Only the own-class divergence changes: humans' delta_h and agents' delta_a.
    humans, agents = ["h1", "h2"], ["g1", "g2"]
    np.testing.assert_array_equal(loo.loc[humans, "delta_a"], ins.loc[humans, "delta_a"])
    np.testing.assert_array_equal(loo.loc[agents, "delta_h"], ins.loc[agents, "delta_h"])
    assert (loo.loc[humans, "delta_h"] != ins.loc[humans, "delta_h"]).all()
    assert (loo.loc[agents, "delta_a"] != ins.loc[agents, "delta_a"]).all()
    # In-sample, h1 is compared with h1 + h2: a -> (0, 3/3, 0), b -> (1/2, 0, 1/2).
    expected = (kl([0, 1, 0], [0, 1, 0]) + kl([1, 0, 0], [0.5, 0, 0.5])) / 2
    assert ins.loc["h1", "delta_h"] == pytest.approx(expected, rel=1e-12)
    # Voting for its own class makes every trajectory look more like it.
    assert (ins.loc[humans, "gap"] < loo.loc[humans, "gap"]).all()
    assert (ins.loc[agents, "gap"] > loo.loc[agents, "gap"]).all()


def test_short_trajectories_are_excluded_and_counted():
    scores = score_table(table(COHORT))
    assert "h3" not in set(scores.frame["trajectory"])
    assert scores.excluded.to_dict("records") == [
        {"trajectory": "h3", "actor": "human", "n_events": 1, "reason": SHORT}
    ]
    assert scores.n_excluded == {SHORT: 1, UNSHARED: 0}


def test_trajectory_sharing_no_source_is_excluded_not_nan():
    # g3's only source event is d, which no human trajectory observes: Delta_H is undefined
    cohort = {**COHORT, "g3": ("agent", "dd")}
    scores = score_table(table(cohort))
    assert np.isfinite(scores.frame[["delta_h", "delta_a", "gap", "f"]].to_numpy()).all()
    assert scores.n_excluded == {SHORT: 1, UNSHARED: 1}
    assert scores.excluded.set_index("trajectory").loc["g3", "reason"] == UNSHARED


def test_only_short_trajectories_in_one_class_never_crash():
    scores = score_table(
        table({"h1": ("human", "a"), "h2": ("human", "b"), "g1": ("agent", "ab"), "g2": ("agent", "ab")})
    )
    assert scores.frame.empty
    assert scores.n_excluded == {SHORT: 2, UNSHARED: 2}


def test_gap_sign_on_constructed_human_like_and_agent_like_trajectories():
    # humans cycle a -> b -> c -> a, agents the other way round; one off-pattern step each
    rng = np.random.default_rng(0)
    cohort = {}
    for i in range(6):
        for actor, cycle in (("human", "abc"), ("agent", "acb")):
            events = list((cycle * 5)[: 6 + i])
            events.insert(int(rng.integers(1, len(events))), cycle[0])
            cohort[f"{actor}{i}"] = (actor, "".join(events))
    for loo in (True, False):
        frame = score_table(table(cohort), ScoreConfig(loo=loo)).frame
        assert (frame.loc[frame["actor"] == "human", "gap"] < 0).all()
        assert (frame.loc[frame["actor"] == "agent", "gap"] > 0).all()


def test_sigmoid_mapping_and_temperature():
    t = table(COHORT)
    base = score_table(t).frame
    np.testing.assert_allclose(base["f"], 1 / (1 + np.exp(-base["gap"])), rtol=1e-9)
    warm = score_table(t, ScoreConfig(temperature=2.0)).frame
    np.testing.assert_allclose(warm["f"], 1 / (1 + np.exp(-base["gap"] / 2.0)), rtol=1e-9)
    np.testing.assert_array_equal(np.argsort(warm["f"]), np.argsort(base["f"]))


def test_encoding_follows_steps_not_row_order():
    t = table(COHORT)
    info, labels, counts = encode(t.sample(frac=1.0, random_state=1))
    assert labels == ("a", "b", "c")
    assert info["trajectory"].tolist() == ["g1", "g2", "h1", "h2", "h3"]
    assert info["n_events"].tolist() == [4, 4, 4, 3, 1]
    h1 = np.zeros((3, 3))
    h1[0, 1], h1[1, 0] = 2, 1
    np.testing.assert_array_equal(counts[2], h1)


def test_paths_table_round_trip():
    paths = np.array([[0, 2, 2, -1], [1, -1, -1, -1], [2, 0, 1, 0]])
    t = paths_table(paths, ("x", "y", "z", "session_end"), "agent")
    assert t["trajectory"].tolist()[:3] == ["agent-0"] * 3
    _, labels, counts = encode(t)
    assert labels == ("x", "y", "z")
    np.testing.assert_array_equal(counts, pair_counts(paths, 4)[:, :3, :3])


def test_contributions_split_the_gap_exactly():
    cohort = {**COHORT, "h4": ("human", "abcab"), "g3": ("agent", "acca")}
    scores = score_table(table(cohort))
    contrib = transition_contributions(scores)
    frame = scores.frame
    difference = frame.loc[frame["is_agent"] == 1, "gap"].mean() - frame.loc[frame["is_agent"] == 0, "gap"].mean()
    assert contrib["separation"].sum() == pytest.approx(difference, rel=1e-12)
    assert (np.diff(contrib["separation"].abs()) <= 0).all()
    assert set(zip(contrib["source"], contrib["destination"])) == {
        ("a", "b"),
        ("b", "a"),
        ("b", "c"),
        ("c", "a"),
        ("a", "a"),
        ("a", "c"),
        ("c", "c"),
    }


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda t: t.drop(columns="actor"), KeyError, r"lacks column\(s\) \['actor'\]"),
        (lambda t: t.assign(actor="bot"), ValueError, "must hold 'human' or 'agent'"),
        (lambda t: t.assign(event=t["event"].where(t.index != 2)), ValueError, "'event' has 1 missing"),
        (
            lambda t: t.assign(actor=np.where(t.index == 0, "agent", t["actor"])),
            ValueError,
            r"\['h1'\] carry more than one actor",
        ),
        (lambda t: t[t["actor"] == "human"], ValueError, "needs trajectories of both classes"),
    ],
)
def test_bad_tables_raise_clear_errors(change, error, message):
    with pytest.raises(error, match=message):
        score_table(change(table(COHORT)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"eps": -1.0}, "eps"),
        ({"loo": "yes"}, "loo"),
        ({"state": ""}, "state"),
        ({"end_transition": 1}, "end_transition"),
    ],
)
def test_score_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=f"ScoreConfig.{message}"):
        ScoreConfig(**kwargs)


# Humans "ab", "abb"; agents "ab", "aba". Event-to-event pairs cannot tell g1 "ab" from a human
# (every a -> b row is the same); its move b -> session_end can: humans end after b 2 times in 3,
# agents 1 time in 2 (and agents also end after a).
END_COHORT = {"h1": ("human", "ab"), "h2": ("human", "abb"), "g1": ("agent", "ab"), "g2": ("agent", "aba")}


def test_end_transition_is_off_by_default_and_counts_the_move_into_session_end_when_on():
    info, labels, counts = encode(table(END_COHORT))
    assert labels == ("a", "b") and counts.sum() == 6
    info, labels, counts = encode(table(END_COHORT), end_transition=True)
    assert labels == ("a", "b", "session_end")
    np.testing.assert_array_equal(
        counts[info["trajectory"].tolist().index("g2")],
        [[0, 1, 0], [1, 0, 0], [0, 0, 0]] + np.array([[0, 0, 1], [0, 0, 0], [0, 0, 0]]),
    )
    assert counts[:, :, 2].sum() == 4 and counts[:, 2, :].sum() == 0


def test_end_transition_changes_the_gap_by_hand():
    without = row(score_table(table(END_COHORT), ScoreConfig(loo=False)).frame, "g1")
    assert without["gap"] == pytest.approx(0.0, abs=1e-9)
    scores = score_table(table(END_COHORT), ScoreConfig(loo=False, end_transition=True))
    g1 = row(scores.frame, "g1")
    # g1: a -> (b 1), b -> (end 1). Human centroid: a -> (b 1), b -> (b 1/3, end 2/3).
    # Agent centroid: a -> (b 2/3, end 1/3), b -> (a 1/2, end 1/2).
    delta_h = (kl([0, 1, 0], [0, 1, 0]) + kl([0, 0, 1], [0, 1 / 3, 2 / 3])) / 2
    delta_a = (kl([0, 1, 0], [0, 2 / 3, 1 / 3]) + kl([0, 0, 1], [1 / 2, 0, 1 / 2])) / 2
    assert g1["delta_h"] == pytest.approx(delta_h, rel=1e-12)
    assert g1["delta_a"] == pytest.approx(delta_a, rel=1e-12)
    assert g1["gap"] == pytest.approx(-np.log(2) / 2, rel=1e-6)  # now human-like


def test_end_transition_keeps_the_scored_set_and_reuses_a_session_end_state():
    with_short = {**END_COHORT, "h3": ("human", "c")}
    on = score_table(table(with_short), ScoreConfig(end_transition=True))
    off = score_table(table(with_short))
    assert on.n_excluded == off.n_excluded == {SHORT: 1, UNSHARED: 0}
    explicit = table({"h1": ("human", "ab"), "g1": ("agent", "ba")})
    explicit.loc[len(explicit)] = {
        "trajectory": "h1",
        "actor": "human",
        "is_agent": 0,
        "step": 2,
        "event": "session_end",
    }
    info, labels, counts = encode(explicit, end_transition=True)
    assert labels == ("a", "b", "session_end")
    assert (
        counts[info["trajectory"].tolist().index("h1"), 2, 2] == 1
    )  # h1's recorded session_end moves into session_end once more
