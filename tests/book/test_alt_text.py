"""Figures get their caption's first sentence as alt text, unless an alt text was set on purpose."""

from __future__ import annotations

from docutils import nodes
from docutils.utils import new_document
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser

from phantom_lib.book import alt_text


def _figure(alt: str | None) -> nodes.figure:
    image = nodes.image(uri="../_images/3f2a.png", **({"alt": alt} if alt is not None else {}))
    return nodes.figure("", image, nodes.caption("", "Revenue per step against alpha (e.g. at 0.05). Left, the baseline."))


def test_undescribed_figures_take_their_caption_and_described_ones_keep_theirs():
    document = new_document("test", get_default_settings(Parser))
    bare, as_path, chosen = _figure(None), _figure("../_images/3f2a.png"), _figure("Two lines falling with alpha")
    loose = nodes.image(uri="logo.png")
    document += [bare, as_path, chosen, loose]
    alt_text.describe_figures(None, document, "page")
    expected = "Revenue per step against alpha (e.g. at 0.05)"
    assert [f.next_node(nodes.image)["alt"] for f in (bare, as_path, chosen)] == [expected, expected,
                                                                                "Two lines falling with alpha"]
    assert "alt" not in loose


def test_the_first_sentence_ends_at_a_full_stop_before_a_capital():
    assert alt_text.first_sentence("The sweep (N = 3). Dotted: 0.5.") == "The sweep (N = 3)"
    assert alt_text.first_sentence("One line\n  only.") == "One line only"
    assert alt_text.first_sentence("Mean of 2.5 vs. 3.1 per step. More.") == "Mean of 2.5 vs. 3.1 per step"
