"""Shared plotting: the book's style and palette, and behaviour kernels as graphs and heatmaps.

:func:`use_book_style` sets matplotlib's defaults every chapter plots with (resolution and type
sizes legible at 1280 px, the colour-blind-safe cycle of :data:`CYCLE`); :data:`PALETTE` gives one
colour per meaning, the same in every figure of the book (human vs agent, baseline vs defended,
the thesis's figures vs ours), and :func:`series_colours` gives a chapter's own series (detectors,
families of price laws) colours that never borrow one of those meanings. Figures are sized for the
book's page: about 7 inches for a figure in the text column, 9.5 to 10 inches for a cell tagged
``full-width``. The browser scales a wide image down to the column, and its type with it, so
:func:`make_legible` raises every text of a figure to :data:`MIN_TEXT_PT` at the size the book
displays it (:func:`display_scale`); in a notebook, :func:`use_book_style` makes every figure pass
through it (:func:`legible_png`), and the PNG records its smallest type for the browser check. Every kernel
function returns a matplotlib ``Figure`` with axis labels and units (the caption in the chapter
carries the title), and draws nothing it was not given: the numbers come from
:mod:`phantom_lib.behaviour.kernels` and :mod:`phantom_lib.behaviour.markov`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from phantom_lib.behaviour.kernels import Kernel, event_of
from phantom_lib.data.events import CATEGORY_WEIGHTS, SESSION_END, category_of

CYCLE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
"""The Okabe-Ito colours (distinguishable with the common colour-vision deficiencies)."""

PALETTE = {
    "human": "#0072B2",
    "agent": "#D55E00",
    "baseline": "#0072B2",
    "defended": "#D55E00",
    "reference": "#7F7F7F",
    "thesis": "#000000",
    "book": "#009E73",
    "prediction": "#CC79A7",
}
"""One colour per meaning across the book: classes (human, agent), variants (baseline, defended,
reference policies), and sources (the thesis's published figures, this book's, an analytic
prediction)."""

FIGURE_DPI = 150
"""Pixels per inch of every chapter figure: a 4-inch-wide figure is 600 px, legible at 1280 px."""


CONTENT_WIDTH_PX = 672
"""Width of the book's text column (CSS px) in the 1280 px page the browser check opens
(sphinx-book-theme with both sidebars): the width at which the browser check measured every wide
chapter figure of the smoke build. A figure wider than it, at :data:`FIGURE_DPI`, is scaled down to it."""

CSS_PX_PER_INCH = 96
"""CSS pixels per inch: a point is 1/72 inch, so 9 pt is 12 CSS px."""

MIN_TEXT_PT = 9.0
"""Smallest type, in points at the size the book displays a figure, that a reader can read."""

TEXT_PT_KEY = "phantom:min-text-pt"
"""PNG text key under which :func:`legible_png` records the figure's smallest type (points at the
figure's own size); ``phantom:dpi`` holds the resolution it was saved at."""


def use_book_style() -> None:
    """Set matplotlib's defaults for the book: :data:`FIGURE_DPI`, readable type, :data:`CYCLE`.

    Inside IPython (a chapter), also route every displayed figure through :func:`legible_png`.
    """
    plt.rcParams.update({
        "figure.dpi": FIGURE_DPI,
        "savefig.dpi": FIGURE_DPI,
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "axes.prop_cycle": plt.cycler(color=CYCLE),
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
    _show_figures_legibly()


def _show_figures_legibly() -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    import matplotlib

    plt.switch_backend(matplotlib.get_backend())  # load the inline backend now, so its formatter does not replace ours
    shell.display_formatter.formatters["image/png"].for_type(Figure, legible_png)


def display_scale(width_in: float, display_px: float = CONTENT_WIDTH_PX, dpi: float = FIGURE_DPI) -> float:
    """Displayed size over drawn size of a figure ``width_in`` inches wide saved at ``dpi``.

    The browser shows the image at its pixel width, or at ``display_px`` CSS px if narrower:
    ``min(width_in * dpi, display_px) / (width_in * 96)``.
    """
    return min(width_in * dpi, display_px) / (width_in * CSS_PX_PER_INCH)


def texts(fig: Figure) -> list[Text]:
    """The figure's visible, non-empty text artists (titles, labels, ticks, legends, annotations)."""
    fig.draw_without_rendering()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def min_text_pt(fig: Figure) -> float:
    """Size in points (at the figure's own size) of its smallest visible text; ``inf`` if none."""
    return min((t.get_fontsize() for t in texts(fig)), default=float("inf"))


LEGIBLE_MARGIN = 1.01
"""Type is raised to this multiple of :data:`MIN_TEXT_PT`, so pixel rounding of a saved image
cannot leave it a hair under the floor (8.98 pt measured where 9 was set)."""


def make_legible(fig: Figure, display_px: float = CONTENT_WIDTH_PX, width_in: float | None = None) -> Figure:
    """Raise every text of ``fig`` smaller than :data:`MIN_TEXT_PT` at its displayed size
    (``display_px`` CSS px wide at most) to that size (times :data:`LEGIBLE_MARGIN`); ``width_in``:
    the width of the saved image in inches when it differs from the figure's (a tight bounding box
    around a legend outside the axes); returns ``fig``."""
    width = fig.get_size_inches()[0] if width_in is None else width_in
    floor = LEGIBLE_MARGIN * MIN_TEXT_PT / display_scale(width, display_px, fig.dpi)
    for text in texts(fig):
        if text.get_fontsize() < floor:
            text.set_fontsize(floor)
    return fig


def legible_png(fig: Figure, display_px: float = CONTENT_WIDTH_PX) -> bytes | None:
    """``fig`` as a PNG (tight bounding box, as IPython saves it) after :func:`make_legible`, with
    its smallest type recorded under :data:`TEXT_PT_KEY`; ``None`` for a figure with no axes."""
    if not fig.axes:
        return None
    width_in = fig.get_size_inches()[0]
    for _ in range(10):  # a tight box wider than the figure shrinks on the page: scale for the saved width
        make_legible(fig, display_px, width_in)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight", dpi=fig.dpi,
                    metadata={TEXT_PT_KEY: f"{min_text_pt(fig):.3f}", "phantom:dpi": f"{fig.dpi:g}"})
        png = buffer.getvalue()
        saved_in = int.from_bytes(png[16:20], "big") / fig.dpi  # the PNG header's width, in pixels
        if saved_in <= width_in:
            break
        width_in = 1.05 * saved_in  # larger type widens the box again: aim past it
    return png


SERIES_CYCLE = ("#E69F00", "#56B4E9", "#882255", "#999933", "#332288", "#44AA99", "#AA4499", "#DDCC77")
"""Colours for a chapter's own series (detectors, families of price laws): none of them is a
:data:`PALETTE` colour, so a series never borrows the colour of a class, a variant or a source."""


def series_colours(names: Sequence[str]) -> dict[str, str]:
    """One :data:`SERIES_CYCLE` colour per name, in the order given (at most eight names), so a
    chapter keeps each series' colour the same in every figure it draws."""
    names = list(dict.fromkeys(names))
    if len(names) > len(SERIES_CYCLE):
        raise ValueError(f"at most {len(SERIES_CYCLE)} series can get distinct colours; got {len(names)}: group them")
    return dict(zip(names, SERIES_CYCLE))


CATEGORY_COLOURS = {"cart": "#49006A", "dwell": "#AE017E", "nav": "#F768A1", "filter": "#FCC5C0", "end": "#7F7F7F"}
"""Colour per action category (and for ``session_end``): one purple-to-pink ramp, darkest for the
category with the most purchase intent, so no category wears a class's colour."""

OTHER = "(other states)"
"""Heatmap column that gathers the probability of states not shown."""


def short_label(label: str, width: int = 10) -> str:
    """A readable state name: the event, and for a fine state its product (its first ``width``
    characters) or, without a product, its page (the last ``width + 6`` characters)."""
    if "|" not in label:
        return label
    page, product, event = label.split("|", 2)
    if product:
        where = product[:width] + ("…" if len(product) > width else "")
    else:
        path = page.strip("/") or "/"
        where = ("…" if len(path) > width + 6 else "") + path[-(width + 6) :]
    return f"{event}\n@{where}"


def display_states(visits: Mapping[str, pd.Series], max_states: int) -> list[str]:
    """The ``max_states`` most visited states over all classes (``session_end`` always kept, last),
    ordered by action category (cart, dwell, nav, filter) then name."""
    if max_states < 2:
        raise ValueError(f"max_states must be at least 2 (one state and session_end); got {max_states}")
    frame = pd.DataFrame({cls: v for cls, v in visits.items()}).drop(index=SESSION_END)
    top = frame.max(axis=1).sort_values(ascending=False, kind="stable").index[: max_states - 1]
    rank = {cat: i for i, cat in enumerate(CATEGORY_WEIGHTS)}
    return sorted(top, key=lambda s: (rank[category_of(event_of(s))], s)) + [SESSION_END]


def _colour(label: str) -> str:
    return CATEGORY_COLOURS["end" if label == SESSION_END else category_of(event_of(label))]


def kernel_graphs(
    kernels: Mapping[str, Kernel],
    visits: Mapping[str, pd.Series],
    states: Sequence[str],
    min_count: float = 1,
) -> Figure:
    """Kernels as directed graphs side by side, one panel per class (in the order given), one
    shared layout; 10 x 5.6 inches, for a full-width cell.

    Edge width is proportional to the transition probability; edges seen fewer than
    ``min_count`` times are hidden. Node area is proportional to the expected visits per
    session (``session_end``: 1). Nodes are coloured by action category
    (:data:`CATEGORY_COLOURS`); ``session_end`` sits in the centre and the other states on a
    circle grouped by category, labelled outside it.
    """
    states = list(states)
    others = [s for s in states if s != SESSION_END]
    angles = np.pi / 2 - 2 * np.pi * np.arange(len(others)) / max(len(others), 1)
    pos = {s: np.array([np.cos(a), np.sin(a)]) for s, a in zip(others, angles)} | {SESSION_END: np.zeros(2)}
    peak = max(float(v.reindex(others).max()) for v in visits.values()) if others else 1.0
    fig, axes = plt.subplots(1, len(kernels), figsize=(5.0 * len(kernels), 5.6))
    for ax, (cls, kernel) in zip(np.atleast_1d(axes), kernels.items()):
        graph = nx.DiGraph()
        graph.add_nodes_from(states)
        idx = [kernel.index(s) for s in states]
        matrix, counts = kernel.matrix[np.ix_(idx, idx)], kernel.counts[np.ix_(idx, idx)]
        for i, j in zip(*np.nonzero((counts >= min_count) & (matrix > 0))):
            graph.add_edge(states[i], states[j], p=matrix[i, j])
        sizes = [1600 * min(float(visits[cls][s]), peak) / peak + 60 for s in states]
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=sizes, node_color=[_colour(s) for s in states],
                               edgecolors="0.25", linewidths=0.6)
        edges = list(graph.edges(data="p"))
        nx.draw_networkx_edges(
            graph,
            pos,
            ax=ax,
            edgelist=[(a, b) for a, b, _ in edges],
            width=[0.4 + 6 * p for _, _, p in edges],
            alpha=0.5,
            node_size=sizes,
            arrowsize=9,
            connectionstyle="arc3,rad=0.12",
        )
        label_pos = {s: xy * [1.42, 1.22] if s != SESSION_END else xy + [0.0, -0.16] for s, xy in pos.items()}
        nx.draw_networkx_labels(
            graph,
            label_pos,
            labels={s: short_label(s) for s in states},
            ax=ax,
            font_size=9,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.5},
        )
        ax.set_title(f"{cls}: {len(edges)} transitions seen ≥ {min_count:g} times")
        ax.set_axis_off()
        ax.set_xlim(-1.85, 1.85)
        ax.set_ylim(-1.4, 1.4)
    handles = [Line2D([], [], marker="o", ls="", markeredgecolor="0.25", color=c, label=k)
               for k, c in CATEGORY_COLOURS.items()]
    fig.legend(
        handles=handles, loc="lower center", ncol=len(handles), title="action category (darker: more purchase intent)"
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def _shown(kernel: Kernel, states: Sequence[str]) -> pd.DataFrame:
    """Rows and columns ``states`` of the kernel, hidden destinations summed into :data:`OTHER`."""
    frame = kernel.to_frame().loc[list(states)]
    shown = frame[list(states)]
    rest = frame.drop(columns=list(states)).sum(axis=1)
    return shown.assign(**{OTHER: rest}) if rest.gt(0).any() else shown


def one_line(label: str) -> str:
    """:func:`short_label` on one line (for tick labels)."""
    return short_label(label).replace("\n", " ")


def kernel_difference(human: Kernel, agent: Kernel, states: Sequence[str], annotate: float = 0.05) -> Figure:
    """One heatmap of T_H - T_A over ``states`` (rows = current state, ``session_end`` left out as
    a source; columns = next state), at least 7.2 inches wide.

    Cells whose difference reaches ``annotate`` in size carry its value; each row label gives the
    state-to-state moves out of that state each class was estimated from (``H n / A n``, the counts
    the KL divergences rest on), so a large difference that rests on a handful of moves reads as
    such. Hidden destinations are summed into :data:`OTHER`, so every row of T_H and of T_A still
    sums to 1.
    """
    sources = [s for s in states if s != SESSION_END]
    h, a = _shown(human, states).loc[sources], _shown(agent, states).loc[sources]
    columns = h.columns.union(a.columns, sort=False)
    diff = h.reindex(columns=columns, fill_value=0.0) - a.reindex(columns=columns, fill_value=0.0)

    def moves(kernel: Kernel) -> pd.Series:
        keep = [i for i in range(kernel.n_states) if i != kernel.end]
        return pd.Series(kernel.counts[:, keep].sum(axis=1), index=list(kernel.labels))

    moves_h, moves_a = moves(human), moves(agent)
    rows = [f"{one_line(r)} (H {moves_h[r]:.0f} / A {moves_a[r]:.0f})" for r in diff.index]
    fig, ax = plt.subplots(figsize=(max(7.2, 0.55 * len(columns) + 3.8), 0.5 * len(rows) + 2.6))
    image = ax.imshow(diff.to_numpy(), cmap="RdBu_r", vmin=-1.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(diff.to_numpy()):
        if abs(value) >= annotate:
            ax.text(
                j,
                i,
                f"{value:+.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(value) > 0.6 else "black",
            )
    ax.set_xticks(range(len(columns)), [one_line(c) for c in columns], rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("next state")
    ax.set_ylabel("current state (state-to-state moves seen, human / agent)")
    fig.colorbar(image, ax=ax, shrink=0.8, label="T_H - T_A (difference in probability)")
    fig.tight_layout()
    return fig


def kl_bars(kl: pd.DataFrame, colours: Mapping[str, str] | None = None) -> Figure:
    """Horizontal bars of per-state KL divergences (nats), one bar per column of ``kl`` (e.g. the
    eps floor beside Dirichlet smoothing), coloured by ``colours[column]`` when given; 7 inches wide."""
    frame = kl.dropna(how="all")
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(frame) * max(len(frame.columns), 1) / 2 + 1.8))
    colour = None if colours is None else [colours[c] for c in frame.columns]
    frame.rename(index=one_line).plot.barh(ax=ax, width=0.8, color=colour)
    ax.invert_yaxis()
    ax.set_xlabel("KL divergence of the next-state distribution (nats)")
    ax.set_ylabel("current state")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
