"""Interleaved rounds and their summaries (arithmetic and order only; no timing is asserted)."""

import math

import pytest

from phantom_lib.perf import rounds


def test_rounds_run_round_robin_not_one_variant_after_another():
    calls = []
    figures = iter(range(100))

    def variant(name):
        def measure():
            calls.append(name)
            return next(figures)
        return measure

    got = rounds.interleaved({"a": variant("a"), "b": variant("b"), "c": variant("c")}, 3)
    assert calls == ["a", "b", "c"] * 3
    assert got == {"a": [0.0, 3.0, 6.0], "b": [1.0, 4.0, 7.0], "c": [2.0, 5.0, 8.0]}


def test_spread_is_the_median_and_range_of_the_rounds():
    assert rounds.spread([5.0, 1.0, 9.0, 3.0]) == {"median": 4.0, "min": 1.0, "max": 9.0, "rounds": 4}
    assert rounds.spread([2.5]) == {"median": 2.5, "min": 2.5, "max": 2.5, "rounds": 1}
    with pytest.raises(ValueError, match="at least one round"):
        rounds.spread([])


def test_ratios_are_formed_within_each_round():
    # per round 10/2, 30/10, 8/2 = 5, 3, 4: the median of within-round ratios is 4,
    # not the ratio of medians (10 / 2 = 5)
    summary = rounds.round_ratios([10.0, 30.0, 8.0], [2.0, 10.0, 2.0])
    assert summary == {"median": 4.0, "min": 3.0, "max": 5.0, "rounds": 3}
    with pytest.raises(ValueError, match="equal lengths"):
        rounds.round_ratios([1.0, 2.0], [1.0])


def test_interleaved_needs_a_round():
    with pytest.raises(ValueError, match=r"rounds = 0: expected an integer >= 1"):
        rounds.interleaved({"a": lambda: 1.0}, 0)


def test_the_load_average_is_recorded_before_and_after(monkeypatch):
    loads = iter([(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)])
    monkeypatch.setattr(rounds.os, "getloadavg", lambda: next(loads))
    result, load = rounds.with_load(lambda: "done")
    assert result == "done" and load == {"before": [1.0, 2.0, 3.0], "after": [4.0, 5.0, 6.0]}

    def unsupported():
        raise OSError("no load average here")

    monkeypatch.setattr(rounds.os, "getloadavg", unsupported)
    assert all(math.isnan(v) for v in rounds.load_average())

