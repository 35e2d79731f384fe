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
