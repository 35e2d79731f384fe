"""The reproduction table: claim contracts, agree/differ rules, strict reading of glued values."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
from test_glued import glued_notebook

from phantom_lib.book import build as book
from phantom_lib.book import glued, reproduction
from phantom_lib.book.reproduction import Claim

GAP = next(c for c in reproduction.CLAIMS if c.key == "gap-human")
MW = next(c for c in reproduction.CLAIMS if c.key == "mann-whitney")


def glued_names(chapter: str) -> list[re.Pattern[str]]:
    """The names a chapter source glues: literal names, and f-string names as patterns (each field
    matches any word, so ``f"{name}_{key}"`` admits any name with an underscore: a loose bound)."""
    source = (book.repo_root() / "notebooks" / f"{chapter}.md").read_text(encoding="utf-8")
    found = re.findall(r"""glue\(\s*(f?)(["'])(.+?)\2""", source)
    return [re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\w*", re.escape(name)) if f else re.escape(name))
            for f, _, name in found if re.sub(r"\{[^}]*\}", "", name)]  # a name with no literal part says nothing


def test_claim_keys_are_unique_and_every_contract_name_is_glued_by_its_chapter():
    keys = [c.key for c in reproduction.CLAIMS]
    assert len(keys) == len(set(keys))
    missing = {chapter: [n for n in names if not any(p.fullmatch(n) for p in glued_names(chapter))]
               for chapter, names in reproduction.contract().items()}
    assert not any(missing.values()), f"names the reproduction table reads but no chapter glues: {missing}"


def test_every_name_a_finding_reads_is_glued_by_its_chapter():
    from phantom_lib.book import findings

    for f in findings.FINDINGS:
        reads = [(f.chapter, n) for n in f.glue] + ([(f.artefact.chapter, n) for n in f.artefact.glue] if f.artefact else [])
        missing = [(c, n) for c, n in reads if not any(p.fullmatch(n) for p in glued_names(c))]
        assert not missing, f"{f.key} reads names its chapter does not glue: {missing}"


def test_the_glue_scan_tells_a_glued_name_from_a_missing_one():
    patterns = glued_names("08_published")
    assert any(p.fullmatch("as_run_slope_pct") for p in patterns)  # glued as f"{key}_slope_pct"
    assert any(p.fullmatch("resp_delta_lo90") for p in patterns)
    assert not any(p.fullmatch("nosuchname") for p in patterns)
    assert not any(p.fullmatch("defence_contrast_lo90") for p in glued_names("07_detection"))


def test_every_figure_label_and_chapter_is_a_real_chapter():
    stems = {p.stem for p in book.notebook_sources()}
    assert set(reproduction.CHAPTER_TITLES) == stems
    assert reproduction.PENDING_CHAPTERS <= stems


@pytest.mark.parametrize("bad, message", [
    (dict(key="Bad Key"), "lower-case words"),
    (dict(chapter="09_nope"), "is not one of"),
    (dict(glue=()), "at least one value"),
    (dict(show="{other:.2f}"), r"show uses \['other'\]"),
    (dict(figure="gaps"), "must start with 'fig-'"),
])
def test_claims_validate_their_fields(bad, message):
    fields = dict(key="k", chapter="04_distinguish", claim="c", published="1", glue=("a",), show="{a}",
                  rule=reproduction.at_most("a", 1), why="w")
    with pytest.raises(ValueError, match=message):
        Claim(**{**fields, **bad})


def test_rules_decide_at_their_boundaries():
    assert reproduction.within("x", -3.35, 0.5, "t").test({"x": -2.85})
    assert not reproduction.within("x", -3.35, 0.5, "t").test({"x": -2.84})
    assert reproduction.equal("n", 13).test({"n": 13}) and not reproduction.equal("n", 13).test({"n": 14})
    assert reproduction.covers("lo", "hi", -4.78).test({"lo": -4.78, "hi": 0.0})
    assert not reproduction.covers("lo", "hi", -4.78).test({"lo": -4.7, "hi": 0.0})
    assert reproduction.ordered("h", "0", "a").test({"h": -0.1, "a": 0.1})
    assert not reproduction.ordered("h", "0", "a").test({"h": 0.0, "a": 0.1})
    both = reproduction.all_of(reproduction.at_least("s", 19), reproduction.between("p", 81, 93))
    assert both.test({"s": 19, "p": 93}) and not both.test({"s": 18.9, "p": 90})
    assert "s ≥ 19 and 81 ≤ p ≤ 93" == both.text


def test_published_gap_tolerance_is_two_published_standard_errors():
    tolerance = 2 * 2.67 / math.sqrt(13)
    assert GAP.rule.test({"human_mean_loo": -3.35 + tolerance - 1e-9})
    assert not GAP.rule.test({"human_mean_loo": -3.35 + tolerance + 1e-9})


def test_rows_read_glued_values_and_decide(tmp_path: Path):
    glued_notebook(tmp_path / "04_distinguish.ipynb",
                   {"human_mean_loo": -3.1, "human_std_loo": 2.5, "n_human_loo": 13, "u_loo": 2.0, "p_loo": 0.02})
    table = reproduction.rows(tmp_path, [GAP, MW], pending=())
    assert [(r.verdict, r.book) for r in table] == [
        ("not tested", "-3.10 ± 2.50 (n = 13)"), ("not tested", "U = 2, p = 0.02")]  # real-data findings
    testable = [dataclasses.replace(c, testable=reproduction.TESTABLE) for c in (GAP, MW)]
    table = reproduction.rows(tmp_path, testable, pending=())
    assert [(r.verdict, r.book) for r in table] == [
        ("agree", "-3.10 ± 2.50 (n = 13)"), ("differ", "U = 2, p = 0.02")]
    assert reproduction.summary(table) == {"agree": 1, "differ": 1, "not tested": 0, "not comparable": 0, "pending": 0}
    other = [dataclasses.replace(c, testable=reproduction.OTHER_QUANTITY) for c in (GAP, MW)]
    table = reproduction.rows(tmp_path, other, pending=())
    assert [r.verdict for r in table] == ["not comparable"] * 2  # whatever the rule says
    assert "(not applied: the two figures measure different things)" in reproduction.to_markdown(table)


def test_speed_ups_are_not_compared_with_the_thesiss_ratio():
    speed = [c for c in reproduction.CLAIMS if c.key.startswith("speedup")]
    assert len(speed) == 2 and all(c.testable == reproduction.OTHER_QUANTITY for c in speed)
    assert all("Numerator, denominator and machine all differ" in c.why for c in speed)


def test_a_delivered_chapter_missing_a_name_fails_the_page(tmp_path: Path):
    glued_notebook(tmp_path / "04_distinguish.ipynb", {"u_loo": 2.0})
    with pytest.raises(glued.MissingGlue, match=r"does not glue \['p_loo'\]"):
        reproduction.rows(tmp_path, [MW], pending=())
    with pytest.raises(FileNotFoundError):
        reproduction.rows(tmp_path / "nowhere", [MW], pending=())


def test_pending_chapters_are_shown_as_pending_without_reading(tmp_path: Path):
    table = reproduction.rows(tmp_path / "nowhere", [GAP], pending={"04_distinguish"})
    assert [(r.verdict, r.book) for r in table] == [("pending", "—")]
    with pytest.raises(ValueError, match="unknown chapters"):
        reproduction.rows(tmp_path, [GAP], pending={"99_x"})


def test_markdown_has_one_row_per_claim_and_links_only_existing_figures(tmp_path: Path):
    glued_notebook(tmp_path / "04_distinguish.ipynb",
                   {"human_mean_loo": -3.1, "human_std_loo": 2.5, "n_human_loo": 13, "u_loo": 2.0, "p_loo": 0.0004})
    done = reproduction.rows(tmp_path, [GAP, MW], pending=())
    waiting = reproduction.rows(tmp_path, [GAP], pending={"04_distinguish"})
    text = reproduction.to_markdown(done + waiting)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "Published claim" not in line]
    assert len(rows) == 3
    assert rows[0].count("{doc}`04 Distinguishability </book/chapters/04_distinguish>`") == 1
    assert "{ref}`figure <fig-distinguish-gaps>`" in rows[0] and "figure <" not in rows[2]
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 8 for row in rows)  # seven cells, no stray pipes
    assert "no: needs the real data" in rows[0] and "(not applied: this claim cannot be tested here)" in text
    assert text.count("agree if") == 3


TABLE_CLAIMS = ("thesis-cost-about-3", "thesis-gap-narrows", "thesis-catalogue-coi", "thesis-leakage",
                "thesis-ppo-pairs", "thesis-supra", "thesis-se-text")


def test_each_claim_of_the_thesis_tables_has_a_row_that_reads_its_glue_and_decides(tmp_path: Path):
    claims = [c for c in reproduction.CLAIMS if c.key in TABLE_CLAIMS]
    assert [c.key for c in claims] == list(TABLE_CLAIMS) and {c.chapter for c in claims} == {"08_published"}
    names = {n for c in claims for n in c.glue}
    values = {n: (f"status of {n}" if n.startswith("tt_status") else 1.0) for n in names}
    agree = {"tt_first_ratio_low": -4.0, "tt_first_ratio_high": -0.5, "tt_zone_low": 0.1, "tt_cat_high_low": 0.2,
             "tt_leak_negative": 6, "tt_leak_cells": 6, "tt_leak_high": -0.001, "tt_ppo_wins_total": 0,
             "tt_ppo_ci_high_max": -60.0, "tt_ppo_overall": -5.944, "tt_supra_step": 800.0, "tt_se_recomputed": 2185.224}
    glued_notebook(tmp_path / "08_published.ipynb", {**values, **agree})
    table = reproduction.rows(tmp_path, claims, pending=())
    assert [r.verdict for r in table] == ["agree"] * len(claims)
    assert all("nan" not in r.book.lower() and "status of tt_status" in r.book for r in table)
    differ = {"tt_first_ratio_high": 0.01, "tt_zone_low": -0.01, "tt_cat_high_low": -0.01, "tt_leak_negative": 5,
              "tt_ppo_overall": -5.946, "tt_supra_step": 900.0, "tt_se_recomputed": 2185.13}
    glued_notebook(tmp_path / "08_published.ipynb", {**values, **agree, **differ})
    assert [r.verdict for r in reproduction.rows(tmp_path, claims, pending=())] == ["differ"] * len(claims)
