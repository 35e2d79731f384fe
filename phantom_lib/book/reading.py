"""How long a chapter takes to read, counted from its source at build time (never typed).

:func:`prose_words` counts the words a reader reads in a jupytext MyST chapter: its markdown, without the
front matter, code cells, directive options, glue and other roles' targets, or URLs. :func:`minutes` turns
them into minutes at :data:`WORDS_PER_MINUTE`, plus :data:`MINUTES_PER_FIGURE` per figure.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

WORDS_PER_MINUTE = 150
"""Reading speed for technical prose with formulas and numbers to check: about 150 words a minute,
below the 200-250 usually quoted for non-fiction, because a reader of this book checks numbers and formulas."""
MINUTES_PER_FIGURE = 0.5
"""Time to read one figure and its caption."""

_FRONT = re.compile(r"\A---\n.*?\n---\n", re.S)
_CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```\s*$", re.S | re.M)
_GLUE = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")
_DIRECTIVE = re.compile(r"^\s*(?:`{3,}|:{3,})\{[\w:-]+\}", re.M)
_ROLE = re.compile(r"\{[\w:.+-]+\}`([^`<]*)(?:<[^>]*>)?`")
_OPTION = re.compile(r"^\s*:[\w-]+:.*$", re.M)
_URL = re.compile(r"https?://\S+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,]\d+)*")


def prose_words(source: str) -> int:
    """Words of reading in a MyST chapter's text: a glue role counts as one word (the number it shows),
    another role as the words it displays."""
    text = _CODE_CELL.sub(" ", _FRONT.sub("", source))
    text = _DIRECTIVE.sub(" ", _GLUE.sub(" 0 ", text))
    text = _ROLE.sub(lambda m: m.group(1) or "0", _OPTION.sub(" ", text))
    return len(_WORD.findall(_URL.sub(" ", text)))


def minutes(source: str) -> int:
    """Reading time of a chapter's source in whole minutes (rounded up, at least one)."""
    figures = len(re.findall(r"^\s+figure:\s*$|\{glue:figure\}", source, re.M))
    return max(1, math.ceil(prose_words(source) / WORDS_PER_MINUTE + MINUTES_PER_FIGURE * figures))


def chapter_minutes(path: str | Path) -> int:
    """:func:`minutes` of the chapter source at ``path``."""
    return minutes(Path(path).read_text(encoding="utf-8"))


def glue_minutes(chapter: str, name: str = "reading_min") -> int:
    """Glue the reading time of ``notebooks/{chapter}.md`` as ``name`` (for the chapter's opening box)."""
    from myst_nb import glue

    from phantom_lib.book.build import repo_root

    value = chapter_minutes(repo_root() / "notebooks" / f"{chapter}.md")
    glue(name, value, display=False)
    return value
