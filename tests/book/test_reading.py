"""Reading time counted from a chapter's words and figures."""

from __future__ import annotations

from phantom_lib.book import reading
from phantom_lib.book.build import notebook_sources

CHAPTER = """---
jupytext:
  formats: md:myst
---

# A title of four

The premium is {glue:text}`coi_level:.2f` price units, see {doc}`chapter three <03_coi>`.

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: Many words here that a code cell holds and nobody reads as prose.
---
x = 1  # these words are code
```

```{admonition} Key results
:class: tip

Read https://example.org/a/long/path now.
```
"""


def test_prose_words_count_text_and_what_roles_show_but_no_code_options_or_urls():
    # "A title of four" 4; "The premium is" 3 + glue 1 + "price units, see" 3 + "chapter three" 2;
    # admonition title words "Key results" sit on the fence line: 2; "Read ... now." 2
    assert reading.prose_words(CHAPTER) == 4 + 3 + 1 + 3 + 2 + 2 + 2


def test_minutes_round_up_and_count_figures():
    words = " ".join(["word"] * (reading.WORDS_PER_MINUTE * 2))
    assert reading.minutes(words) == 2
    assert reading.minutes(words + " more") == 3
    assert reading.minutes("") == 1
    assert reading.minutes(CHAPTER) == 1  # 17 words and one figure: 0.11 + 0.5 minutes


def test_every_chapter_reads_in_a_plausible_time():
    times = {p.stem: reading.chapter_minutes(p) for p in notebook_sources()}
    assert all(3 <= t <= 90 for t in times.values()), times
