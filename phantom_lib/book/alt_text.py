"""Sphinx extension: every figure's image describes itself to a reader who cannot see it.

Loaded through ``_config.yml``. A notebook figure (a cell with ``mystnb: figure:`` metadata) gets
its image from myst-nb with no alt text, and Sphinx then writes the image's file path as its alt
text. After references are resolved (glued numbers are in the caption by then), this extension
gives such an image the first sentence of its figure's caption as its alt text. An alt text set
on purpose (``mystnb: image: alt: ...``) is kept.
"""

from __future__ import annotations

import re
from typing import Any

SENTENCE_END = re.compile(r"(?<=[a-z0-9%)\]])\.\s+(?=[A-Z(])")
"""A full stop followed by the start of the next sentence (not inside "e.g. " or "0.05")."""


def first_sentence(text: str) -> str:
    """The first sentence of a caption, on one line, without its full stop.

    >>> first_sentence("Revenue against alpha (thesis data). Left, the baseline.")
    'Revenue against alpha (thesis data)'
    """
    text = " ".join(text.split())
    return SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".")


def describe_figures(app: Any, doctree: Any, docname: str) -> None:
    """Set each undescribed image inside a captioned figure to its caption's first sentence."""
    from docutils import nodes

    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        for image in figure.findall(nodes.image):
            if not image.get("alt", "").strip() or image.get("alt") == image.get("uri"):
                image["alt"] = first_sentence(captions[0].astext())


def setup(app: Any) -> dict[str, Any]:
    """Register the alt-text pass with Sphinx."""
    app.connect("doctree-resolved", describe_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
