"""The profile table and how notebooks settle their parameters."""

import pytest

from phantom_lib import book
from phantom_lib.book import profiles


def test_every_notebook_has_an_entry_in_every_profile():
    stems = {p.stem for p in book.notebook_sources()}
    assert stems, "no notebooks found"
    for name in profiles.names():
        assert set(profiles.PROFILES[name]) == stems, name


def test_apply_reads_the_environment_when_profile_is_none(monkeypatch):
    monkeypatch.setitem(profiles.PROFILES["smoke"], "99_test", {"n": 3})
    monkeypatch.setenv(profiles.ENV_VAR, "smoke")
    namespace = {"profile": None, "n": 1000, "seed": 0}
    assert profiles.apply(namespace, "99_test") == "smoke"
    assert namespace == {"profile": "smoke", "n": 3, "seed": 0}


def test_apply_defaults_to_full_and_keeps_injected_values(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.setitem(profiles.PROFILES["smoke"], "99_test", {"n": 3})
    namespace = {"profile": None, "n": 1000}
    assert profiles.apply(namespace, "99_test") == "full"
    assert namespace["n"] == 1000
    injected = {"profile": "smoke", "n": 42}
    assert profiles.apply(injected, "99_test") == "smoke"
    assert injected["n"] == 42


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast'.*PHANTOM_PROFILE"):
        profiles.apply({"profile": None}, "03_coi")


@pytest.mark.parametrize(
    ("text", "value"),
    [("7", 7), ("0.5", 0.5), ("True", True), ("[1, 2]", [1, 2]), ("standin", "standin"), ("'7'", "7")],
)
def test_parse_value(text, value):
    assert book.parse_value(text) == value
