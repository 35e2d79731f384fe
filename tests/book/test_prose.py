"""Every number in the book's prose is glued: the scanner, on crafted text and on the real sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantom_lib.book import build as book
from phantom_lib.book import prose

ROOT = book.repo_root()

CHAPTER = """---
jupytext:
  text_representation:
    format_name: myst
---

# A chapter

We sampled 500 sessions before the closing section; that is not scanned.

```{code-cell} ipython3
# a comment is not a heading
x = 42
```

## What we found

The mean gap is {glue:text}`gap_mean:.2f` over {glue:text}`n` trajectories (chapter 04, section 9).
Humans differ from agents with p = 0.003.

```{code-cell} ipython3
# not a heading either
glue("n", 29)
```

See chapters 02 and 04 and {cite:t}`mann1947test`; also (Mann and Whitney, 1947).
We used 2000 bootstrap samples.

| quantity | published | this book |
|---|---|---|
| gap | -3.35 | 1.25 |

:::{note}
:class: dropdown
The effect is 12% of the baseline.
:::

1. first point, {glue:text}`a`
2. second point, typed 7.5

## Next section

After the closing section 99 is not scanned.
"""


def numbers(findings: list[prose.Finding]) -> list[str]:
    return [f.number for f in findings]


def test_closing_section_numbers_are_found_with_their_lines():
    findings = prose.bare_numbers(prose.closing_sections(CHAPTER))
    assert numbers(findings) == ["0.003", "2000", "1.25", "12%", "7.5"]
    lines = CHAPTER.splitlines()
    for f in findings:
        assert f.number in lines[f.line - 1], f


def test_glued_referenced_and_published_numbers_pass():
    clean = """## What we found

Chapter 03 and chapters 02, 04 and 05 agree; erratum 5 matters (Moritz et al. 2018; [Ie et al., 2019]).
The AUC is {glue:text}`auc:.3f` ({glue:text}`auc_lo:.2f` to {glue:text}`auc_hi:.2f`), see
[the table](https://example.org/v1.2/page#3) and {numref}`fig-2`.

(fig-label-3)=
| measure | published (thesis) | paper |
|---|---|---|
| gap | -3.35 +/- 2.67 | 13 |

Identifiers such as T_H, pi0, 04_distinguish and F1-score carry no claim.
"""
    assert prose.bare_numbers(prose.closing_sections(clean)) == []


def test_strict_mode_scans_inline_code_and_math_lenient_mode_does_not():
    text = "The test gives `p = 0.03` and $n = 13$.\n"
    assert numbers(prose.bare_numbers(text, strict=True)) == ["0.03", "13"]
    assert prose.bare_numbers(text, strict=False) == []


def test_years_count_only_inside_citations():
    assert numbers(prose.bare_numbers("A study (Smith, 2021) used 2021 runs.\n")) == ["2021"]


def test_code_blocks_and_directive_options_are_skipped_but_admonition_text_is_not():
    text = """```{figure} x.png
:width: 80%
:name: fig-x

Caption with 3 panels.
```

```bash
phantom run 04 -p seed 7
```
"""
    assert numbers(prose.bare_numbers(text)) == ["3"]


def test_section_ends_at_a_heading_of_the_same_or_higher_level():
    text = "# T\n## What we found\nA 1.5 here.\n### Detail\nAnd 2.5.\n## Other\nNot 3.5.\n# Top\nNot 4.5.\n"
    assert numbers(prose.bare_numbers(prose.closing_sections(text))) == ["1.5", "2.5"]


def test_a_chapter_without_closing_section_has_nothing_to_scan():
    assert prose.bare_numbers(prose.closing_sections("# T\n\nWe saw 12 things.\n")) == []


@pytest.mark.parametrize("source", book.notebook_sources(), ids=lambda p: p.stem)
def test_chapter_closing_sections_quote_only_glued_numbers(source: Path):
    findings = prose.check_chapter(source)
    assert not findings, f"{source.name}: numbers typed in 'What we found' (glue them): " + "; ".join(map(str, findings))


@pytest.mark.parametrize("page", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.stem)
def test_prose_pages_quote_only_glued_numbers(page: Path):
    findings = prose.check_page(page)
    assert not findings, f"{page.name}: numbers typed in prose (glue them): " + "; ".join(map(str, findings))


def test_display_math_over_several_lines_is_a_formula_in_lenient_mode():
    text = "Before.\n\n$$\nE[p_{(1)}] = a + (b - a)/(n + 1)\n$$\n\nAfter 3 steps.\n"
    assert [(f.line, f.number) for f in prose.bare_numbers(text, strict=False)] == [(7, "3")]
    assert "1" in numbers(prose.bare_numbers(text, strict=True))


def test_strings_built_in_python_are_scanned_outside_their_format_fields():
    template = "slope {slope_pct:+.1f} % of the intercept, R² {r2:.3f}; p < 0.05 over 12 runs"
    assert numbers(prose.template_numbers(template)) == ["0.05", "12"]
    assert prose.template_numbers("chapter 06's interval {lo:.2f} to {hi:.2f} %") == []


def test_the_findings_page_prose_built_in_python_quotes_only_glued_numbers():
    from phantom_lib.book import findings

    typed = []
    for f in findings.FINDINGS:
        for name in ("statement", "evidence", "could_fail", "why", "depends_on"):
            typed += [f"{f.key}.{name}: {hit}" for hit in prose.template_numbers(getattr(f, name))]
    assert not typed, "numbers typed in findings.py prose (glue them, or move a thesis figure to `published`): " \
        + "; ".join(typed)
