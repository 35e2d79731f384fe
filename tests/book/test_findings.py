"""The "What holds up" machinery: every real rule flips at its boundary; evidence and checks apart."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_glued import glued_notebook

from phantom_lib.book import findings, glued
from phantom_lib.book.findings import (CHECK_FAILS, CHECKED, FAILS, HOLDS, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED,
                                       UNTESTABLE)
from phantom_lib.book.reproduction import Rule, at_most
from phantom_lib.published import DEFENCE_REVENUE_DELTA_PCT

BY_KEY = {f.key: f for f in findings.FINDINGS}
HEADLINE = DEFENCE_REVENUE_DELTA_PCT["mean over alpha in [0, 1]"]
ARTEFACT_MASS = findings.artefact_of("the mass proxy (the market as the thesis's sweep ran it)")
ARTEFACT_ADVERSARY = findings.artefact_of("the closed-form adversary (the market as the thesis's sweep ran it)")
EQ_REVENUE = "equivalent within ±1 % of revenue"
EQ_UNDEFENDED = "equivalent within ±1 % of the undefended revenue"

_CONTRAST = {"defence_contrast": 0.0, "defence_contrast_lo": -1.0, "defence_contrast_hi": 0.5,
             "defence_contrast_lo90": -0.5, "defence_contrast_hi90": 0.5, "as_run_delta_mean": -8.5}
_DETECTION = {"def_exclude_error_vs_off": -1.0, "def_exclude_revenue_vs_off": 6.6, "def_exclude_revenue_vs_off_se": 2.0,
              "def_exclude_humans_excluded": 0.1, "def_off_revenue": 1000.0, "defence_steps": 201}


def _sales_cases(defence: str) -> list[tuple]:
    """Chapter 09's equivalence rule for one defence at the sales study's pre-registered margin (1 %):
    the 90 % interval inside [-1, 1] is equivalent, touching 1 is inconclusive, wholly above 1 is not."""
    names = [f"eff_{defence}_{tag}_{key}" for tag in ("buy", "recon") for key in ("delta", "lo90", "hi90")]
    base = dict(zip(names, (0.0, -0.5, 0.5, 0.0, -0.5, 0.5)))
    beyond = {**base, names[0]: 1.5, names[1]: 1.0, names[2]: 2.0}
    key = f"sales-{defence}-equivalent"
    return [(key, base, names[2], 0.999, 1.0, "equivalent within ±1 % of sales revenue", INCONCLUSIVE),
            (key, beyond, names[1], 1.0, 1.001, INCONCLUSIVE, "not equivalent")]


# (finding, values just inside, the name moved, its value just inside, just outside, status inside, outside)
CASES = [
    ("coi-erodes", {"coi_max_abs_z": 1.0, "coi_max_rel_closed": 1e-9}, "coi_max_abs_z", 4.0, 4.001,
     REPRODUCED, NOT_REPRODUCED),
    ("coi-erodes", {"coi_max_abs_z": 1.0, "coi_max_rel_closed": 1e-9}, "coi_max_rel_closed", 1e-8, 1.01e-8,
     REPRODUCED, NOT_REPRODUCED),
    ("in-sample-inflates", {"rescore_null_ins": 0.9, "rescore_null_loo": 0.5}, "rescore_null_ins", 0.75, 0.7499,
     HOLDS, FAILS),
    ("in-sample-inflates", {"rescore_null_ins": 0.9, "rescore_null_loo": 0.5}, "rescore_null_loo", 0.6, 0.6001,
     HOLDS, FAILS),
    # more than half of the floored KL is floor <=> floored > 2 x smoothed
    ("kl-rests-on-floor", {"class_kl": 3.0, "class_kl_dirichlet": 1.5}, "class_kl", 3.0001, 3.0, HOLDS, FAILS),
    ("end-transition-decides", {"p_loo_noend": 0.3, "p_loo_end": 0.01}, "p_loo_end", 0.0499, 0.05, HOLDS, FAILS),
    ("f-weak", {"err_f_at_0": 0.3, "err_f_at_1": 0.7}, "err_f_at_0", 0.1, 0.0999, HOLDS, FAILS),
    ("f-weak", {"err_f_at_0": 0.3, "err_f_at_1": 0.7}, "err_f_at_1", 0.9, 0.9001, HOLDS, FAILS),
    ("revenue-falls", {"as_written_slope_pct": -20.0, "as_written_r2": 0.95, "as_run_slope_pct": -40.0, "as_run_r2": 1.0},
     "as_written_slope_pct", -10.0, -9.99, REPRODUCED, ARTEFACT_MASS),
    ("revenue-falls", {"as_written_slope_pct": -20.0, "as_written_r2": 0.95, "as_run_slope_pct": -40.0, "as_run_r2": 1.0},
     "as_written_r2", 0.9, 0.8999, REPRODUCED, ARTEFACT_MASS),
    ("revenue-falls", {"as_written_slope_pct": 0.2, "as_written_r2": 0.2, "as_run_slope_pct": -40.0, "as_run_r2": 1.0},
     "as_run_slope_pct", -10.0, -9.99, ARTEFACT_MASS, NOT_REPRODUCED),
    # a cost shown: the 95 % interval below zero; else the equivalence test decides
    ("defence-cost-as-written", {**_CONTRAST, "defence_contrast_lo90": -2.8, "defence_contrast_hi90": -0.2},
     "defence_contrast_hi", -1e-4, 0.0, REPRODUCED, INCONCLUSIVE),
    ("defence-cost-as-written", _CONTRAST, "defence_contrast_hi90", 0.999, 1.0, f"{NOT_REPRODUCED}: {EQ_REVENUE}",
     INCONCLUSIVE),
    ("defence-cost-as-written", _CONTRAST, "defence_contrast_lo90", -0.999, -1.0, f"{NOT_REPRODUCED}: {EQ_REVENUE}",
     INCONCLUSIVE),
    # shown different from zero (a gain beyond the margin): an artefact if the other market gives the thesis's cost
    ("defence-cost-as-written", {**_CONTRAST, "defence_contrast_lo90": 1.2, "defence_contrast_hi90": 2.0},
     "as_run_delta_mean", HEADLINE - 2.0, HEADLINE - 2.01, ARTEFACT_ADVERSARY, NOT_REPRODUCED),
    ("defence-is-shift", {"shift_ratio": 5.0}, "shift_ratio", 2.0, 1.999, HOLDS, FAILS),
    ("blind-as-written", {"as_written_zero_demand": 0.9, "as_written_slope_pct": 0.1}, "as_written_zero_demand",
     0.5001, 0.5, HOLDS, FAILS),
    # margin 1 % of 1000 = 10; t(200 df) 95 % quantile 1.6525: equivalent iff |estimate| + 3.305 < 10
    ("detection-not-revenue", _DETECTION, "def_exclude_revenue_vs_off", 6.6, 6.8, EQ_UNDEFENDED, INCONCLUSIVE),
    ("detection-not-revenue", _DETECTION, "def_off_revenue", 1000.0, 980.0, EQ_UNDEFENDED, INCONCLUSIVE),
    ("detection-not-revenue", _DETECTION, "def_exclude_humans_excluded", 0.05, 0.0499, EQ_UNDEFENDED, FAILS),
    ("detection-not-revenue", _DETECTION, "def_exclude_error_vs_off", -1e-4, 0.0, EQ_UNDEFENDED, FAILS),
    ("responsive-no-cost", {"resp_delta": 0.0, "resp_delta_lo90": -0.5, "resp_delta_hi90": 0.5, "resp_price": 40.0,
                            "resp_zero_demand": 0.0}, "resp_delta_hi90", 0.999, 1.0, EQ_REVENUE, INCONCLUSIVE),
    ("responsive-no-cost", {"resp_delta": 0.0, "resp_delta_lo90": -0.5, "resp_delta_hi90": 0.5, "resp_price": 40.0,
                            "resp_zero_demand": 0.0}, "resp_zero_demand", 0.4999, 0.5, EQ_REVENUE, FAILS),
    ("responsive-no-cost", {"resp_delta": 1.5, "resp_delta_lo90": 1.0, "resp_delta_hi90": 2.0, "resp_price": 40.0,
                            "resp_zero_demand": 0.0}, "resp_delta_lo90", 1.0, 1.001, INCONCLUSIVE, "not equivalent"),
    *(case for defence in ("robust", "filter", "sales") for case in _sales_cases(defence)),
    ("leak-constant", {"leak_spread": 0.0, "leak_spread_all_pct": 1.0}, "leak_spread", 1e-9, 1.1e-9, CHECKED, CHECK_FAILS),
    ("held-price-share", {"probe_share_slope_pct": 0.0}, "probe_share_slope_pct", -0.1, -0.1001, CHECKED, CHECK_FAILS),
    ("thesis-fall-recomputed", {"all_slope_pct_of_intercept": -20.0, "all_r2": 0.95, "se_ratio_hc1": 3.0},
     "all_slope_pct_of_intercept", -10.0, -9.99, CHECKED, CHECK_FAILS),
    ("fall-is-mass", {"mass_slope_pct": -20.0, "price_slope_pct": 1.0, "mass_r2": 0.9}, "price_slope_pct", -2.0, -2.01,
     CHECKED, CHECK_FAILS),
    ("fall-as-run", {"as_run_slope_pct": -40.0, "as_run_r2": 1.0}, "as_run_r2", 0.9, 0.8999, CHECKED, CHECK_FAILS),
    ("shift-as-run", {"as_run_shift_ratio": 40.0}, "as_run_shift_ratio", 2.0, 1.999, CHECKED, CHECK_FAILS),
]


@pytest.mark.parametrize(("key", "base", "name", "inside", "outside", "status_in", "status_out"), CASES,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_every_real_rule_flips_at_its_boundary(key, base, name, inside, outside, status_in, status_out):
    finding = BY_KEY[key]
    assert set(base) == set(finding.names)  # the case feeds exactly what the finding reads
    assert findings.decide(finding, {**base, name: inside}) == status_in
    assert findings.decide(finding, {**base, name: outside}) == status_out


def test_every_testable_finding_has_a_boundary_case_and_the_real_data_is_never_decided():
    assert {c[0] for c in CASES} == {f.key for f in findings.FINDINGS if f.testable}
    real = BY_KEY["separable-real"]
    assert findings.decide(real, {"p_loo": 0.9, "auc_loo": 0.5}) == UNTESTABLE


def test_evidence_and_checks_are_apart_and_only_evidence_is_counted():
    kinds = {f.key: f.kind for f in findings.FINDINGS}
    assert {k for k, v in kinds.items() if v == findings.CHECK} == {
        "leak-constant", "held-price-share", "thesis-fall-recomputed", "fall-is-mass", "fall-as-run", "shift-as-run"}
    assert all(f.could_fail for f in findings.FINDINGS if f.testable)  # how it could fail, or why it is a check
    assert all(f.published for f in findings.FINDINGS if f.origin == "thesis" and f.kind == findings.EVIDENCE)


def test_one_floor_constant_and_one_zero_demand_majority():
    from phantom_lib import behaviour as bh

    assert bh.FLOOR_DOMINATES == 2.0 and findings.ZERO_DEMAND_MAJORITY == 0.5
    assert bh.floor_dominates(2.0001, 1.0) and not bh.floor_dominates(2.0, 1.0)
    source = (Path(__file__).resolve().parents[2] / "notebooks" / "04_distinguish.md").read_text()
    assert "bh.floor_dominates(" in source and "2 * smoothed" not in source


LEAK = findings.Finding("leak-constant", "book", "", "The COI leak is the same for every policy.", "06_sweep",
                        ("leak_spread",), "spread {leak_spread:.2g}", at_most("leak_spread", 1e-9),
                        could_fail="it could be larger than the bound.")
CHECK = dataclasses.replace(LEAK, key="leak-check", kind=findings.CHECK, could_fail="an identity.")
REAL = findings.Finding("real-gap", "thesis", "", "Agents score agent-like on the real data.", "06_sweep",
                        ("leak_spread",), "{leak_spread:g}", at_most("leak_spread", 1.0), testable=False)


def test_statuses_read_the_glue_and_tally_keeps_checks_apart(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 0.0})
    table = findings.statuses(tmp_path, [LEAK, CHECK, REAL])
    assert [(s.status, s.evidence) for s in table] == [(HOLDS, "spread 0"), (CHECKED, "spread 0"), (UNTESTABLE, "0")]
    assert findings.tally(table) == {HOLDS: 1, UNTESTABLE: 1, CHECKED: 1, CHECK_FAILS: 0}
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 3.0})
    assert [s.status for s in findings.statuses(tmp_path, [LEAK, CHECK])] == [FAILS, CHECK_FAILS]


def test_a_missing_value_fails_instead_of_leaving_a_gap(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"other": 1})
    with pytest.raises(glued.MissingGlue):
        findings.statuses(tmp_path, [LEAK])


@pytest.mark.parametrize(("field", "value", "message"), [
    ("key", "Bad Key", "lower-case"), ("origin", "me", "origin"), ("chapter", "99_x", "chapter"),
    ("evidence", "{nope}", "evidence uses"), ("figure", "table-1", "fig-"), ("kind", "hunch", "kind"),
    ("could_fail", " ", "could_fail"), ("rule", None, "give a rule"), ("headline", "{nope}", "headline uses"),
])
def test_findings_validate_their_fields(field, value, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(LEAK, **{field: value})


def test_markdown_flags_rules_written_after_the_data_and_shows_a_registered_one(tmp_path: Path):
    glued_notebook(tmp_path / "06_sweep.ipynb", {"leak_spread": 0.0})
    registered = dataclasses.replace(LEAK, rule=Rule("leak_spread ≤ 1e-9", lambda v: v["leak_spread"] <= 1e-9,
                                                     registered="abc1234"))
    text = findings.to_markdown(findings.statuses(tmp_path, [LEAK, registered, REAL]))
    assert "| The COI leak is the same for every policy. | book | **holds** | — | spread 0 |" in text
    assert text.count("**written after the data**") == 1 and "pre-registered in abc1234" in text
    assert "It could have failed: it could be larger than the bound." in text
    assert "Not applied: the finding is about the real data." in text
    assert findings.after_the_data([LEAK, registered, REAL]) == ["leak-constant"]
