"""The shared palette keeps one colour per meaning; the kernel difference heatmap reads its counts right."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from phantom_lib import plots
from phantom_lib.behaviour.kernels import estimate_by_class


def test_series_colours_never_borrow_a_palette_meaning():
    colours = plots.series_colours(["rule", "kl", "boosted", "rule"])
    assert list(colours) == ["rule", "kl", "boosted"]
    assert len(set(colours.values())) == 3
    assert not set(plots.SERIES_CYCLE) & set(plots.PALETTE.values())
    with pytest.raises(ValueError, match="at most"):
        plots.series_colours([str(i) for i in range(len(plots.SERIES_CYCLE) + 1)])


def test_action_categories_do_not_wear_a_class_colour():
    assert not set(plots.CATEGORY_COLOURS.values()) & {plots.PALETTE["human"], plots.PALETTE["agent"]}


def test_kernel_difference_labels_rows_with_the_moves_each_class_made():
    rows = [("h1", "human", ["a", "b", "a", "b"]), ("h2", "human", ["a", "a"]), ("g1", "agent", ["a", "b", "b"])]
    table = pd.DataFrame([{"trajectory": t, "actor": c, "step": i, "event": e}
                          for t, c, events in rows for i, e in enumerate(events)])
    ks = estimate_by_class(table)
    fig = plots.kernel_difference(ks["human"], ks["agent"], ["a", "b", "session_end"])
    ax = fig.axes[0]
    # state-to-state moves out of a: human a->b twice, a->a once (3); agent a->b once (1)
    # out of b: human b->a once (1); agent b->b once (1); session_end is not a source row
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a (H 3 / A 1)", "b (H 1 / A 1)"]
    image = ax.get_images()[0].get_array()
    # T_H[a] = (a 1/4, b 2/4, end 1/4) (h2 ends at a); T_A[a] = (0, 1, 0)
    np.testing.assert_allclose(image[0], [1 / 4, 2 / 4 - 1, 1 / 4], atol=1e-12)
    assert fig.get_size_inches()[0] * plots.FIGURE_DPI >= 600
    plt.close(fig)


def _kernels():
    rows = [("h1", "human", ["a", "b", "a", "b"]), ("h2", "human", ["a", "a"]), ("g1", "agent", ["a", "b", "b"])]
    table = pd.DataFrame([{"trajectory": t, "actor": c, "step": i, "event": e}
                          for t, c, events in rows for i, e in enumerate(events)])
    return estimate_by_class(table)


def _small_type_figure():
    """A full-width figure (11 inches) with 7 pt ticks, a 6 pt legend and a 7 pt annotation, as chapters drew them."""
    fig, ax = plt.subplots(figsize=(11, 4), dpi=plots.FIGURE_DPI)
    ax.plot([0, 1], [0, 1], label="baseline")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)
    ax.annotate("collapse", (0.5, 0.5), fontsize=7)
    return fig


def test_display_scale_is_the_shown_width_over_the_drawn_width():
    # 4 in at 150 dpi is 600 px, narrower than the column: shown at 600 CSS px = 6.25 CSS inches
    assert plots.display_scale(4.0, 740, 150) == pytest.approx(600 / 384)
    # 10 in is 1500 px, shown at the 740 px column = 740 / 96 CSS inches of the 10 drawn
    assert plots.display_scale(10.0, 740, 150) == pytest.approx(740 / 960)


@pytest.mark.parametrize("make", ["graphs", "difference", "bars", "small"])
def test_every_saved_figure_has_legible_type_at_its_displayed_width(make):
    ks = _kernels()
    states = ["a", "b", "session_end"]
    figures = {
        "graphs": lambda: plots.kernel_graphs(ks, {c: pd.Series(1.0, index=states) for c in ks}, states),
        "difference": lambda: plots.kernel_difference(ks["human"], ks["agent"], states),
        "bars": lambda: plots.kl_bars(pd.DataFrame({"eps floor": [0.2, 0.1]}, index=["a", "b"])),
        "small": _small_type_figure,
    }
    fig = figures[make]()
    fig.set_dpi(plots.FIGURE_DPI)
    png = plots.legible_png(fig)
    scale = plots.display_scale(fig.get_size_inches()[0])
    shown = {t.get_text(): t.get_fontsize() * scale for t in plots.texts(fig)}
    assert min(shown.values()) >= plots.MIN_TEXT_PT - 1e-9, shown
    # the PNG records the smallest type at the figure's own size, for the browser check
    from io import BytesIO

    from PIL import Image

    recorded = float(Image.open(BytesIO(png)).text[plots.TEXT_PT_KEY])
    assert recorded == pytest.approx(min(t.get_fontsize() for t in plots.texts(fig)), abs=1e-3)
    plt.close(fig)


def test_small_type_is_raised_and_large_type_kept():
    fig = _small_type_figure()
    fig.axes[0].set_title("a title", fontsize=20)
    plots.make_legible(fig)
    floor = plots.LEGIBLE_MARGIN * plots.MIN_TEXT_PT / plots.display_scale(11.0)  # 1.01 x 9 pt / (672 / 1056)
    sizes = {t.get_text(): t.get_fontsize() for t in plots.texts(fig)}
    assert sizes["collapse"] == pytest.approx(floor) and sizes["baseline"] == pytest.approx(floor)
    assert sizes["a title"] == 20
    plt.close(fig)


def test_a_legend_outside_the_axes_is_legible_at_the_saved_images_width():
    """A tight bounding box around a legend outside the axes makes the saved image wider than the
    figure, so the page shrinks it more: the type is raised for the width actually saved."""
    from io import BytesIO

    from PIL import Image

    fig, ax = plt.subplots(figsize=(8, 3), dpi=plots.FIGURE_DPI)
    ax.plot([0, 1], [0, 1], label="a long legend entry that sits outside the axes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    png = plots.legible_png(fig)
    image = Image.open(BytesIO(png))
    saved_in = image.size[0] / plots.FIGURE_DPI
    assert saved_in > 8  # the legend widened the image beyond the figure
    shown = float(image.text[plots.TEXT_PT_KEY]) * plots.display_scale(saved_in)
    assert shown >= plots.MIN_TEXT_PT, shown
    plt.close(fig)
