"""The "What holds up" machinery: statuses decided by rules over glued values, never typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_glued import glued_notebook

from phantom_lib.book import findings, glued
from phantom_lib.book.reproduction import at_most

LEAK = findings.Finding("leak-constant", "book", "", "The COI leak is the same for every policy.", "06_sweep",
                        ("leak_spread",), "spread {leak_spread:.2g}", at_most("leak_spread", 1e-9))
REAL = findings.Finding("real-gap", "thesis", "", "Agents score agent-like on the real data.", "06_sweep",
                        ("leak_spread",), "{leak_spread:g}", at_most("leak_spread", 1.0), testable=False)


def test_statuses_follow_the_rule_and_the_real_data_is_never_decided(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 0.0})
    table = findings.statuses(tmp_path, [LEAK, REAL])
    assert [(s.status, s.evidence) for s in table] == [(findings.HOLDS, "spread 0"), (findings.UNTESTABLE, "0")]
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 3.0})
    assert [s.status for s in findings.statuses(tmp_path, [LEAK, REAL])] == [findings.FAILS, findings.UNTESTABLE]
    assert findings.tally(findings.statuses(tmp_path, [LEAK])) == {findings.HOLDS: 0, findings.FAILS: 1,
                                                                    findings.UNTESTABLE: 0}


def test_a_missing_value_fails_instead_of_leaving_a_gap(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"other": 1})
    with pytest.raises(glued.MissingGlue):
        findings.statuses(tmp_path, [LEAK])


@pytest.mark.parametrize(("field", "value", "message"), [
    ("key", "Bad Key", "lower-case"), ("origin", "me", "origin"), ("chapter", "99_x", "chapter"),
    ("evidence", "{nope}", "evidence uses"), ("figure", "table-1", "fig-"),
])
def test_findings_validate_their_fields(field, value, message):
    import dataclasses

    with pytest.raises(ValueError, match=message):
        dataclasses.replace(LEAK, **{field: value})


def test_markdown_states_status_evidence_and_rule(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 0.0})
    text = findings.to_markdown(findings.statuses(tmp_path, [LEAK, REAL]))
    assert "| The COI leak is the same for every policy. | book | **holds** | spread 0 |" in text
    assert "(not applied: the finding is about the real data)" in text
