"""Action categories, their weights, and the demand proxy (Model reference, section 1).

An interaction event has an action name. Names fall in four categories whose weights omega
order the strength of the purchase signal (cart > dwell > nav > filter). The demand proxy of
a product is the omega-weighted count of events on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SESSION_END = "session_end"
"""Absorbing terminal state that closes every session."""

CHECKOUT = "checkout_start"
"""Reaching this event ends a sampled session (Model reference, section 5)."""

CATEGORY_WEIGHTS: dict[str, float] = {"cart": 4.0, "dwell": 2.0, "nav": 1.0, "filter": 0.5}
"""omega per category."""

CATEGORY_ACTIONS: dict[str, tuple[str, ...]] = {
    "cart": (
        "add_item_to_cart", "remove_item", "checkout_start", "purchase_complete",
        "add_item", "remove", "checkout", "purchase",
    ),
    "dwell": ("hover_over_title", "hover_over_paragraph", "hover_over_link", "hover_over_button"),
    "nav": ("page_view", "view_item_page", "learn_more_about_item", "session_start", "view_item", "learn_more"),
    "filter": ("search", "filter_for_date", "filter_for_price", "filter_for_amenities", "sort_change"),
}
"""The method's table of known action names per category (real names first, aliases after)."""

KNOWN_ACTIONS: dict[str, str] = {a: cat for cat, actions in CATEGORY_ACTIONS.items() for a in actions}

_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("hover",), "dwell"),
    (("filter", "search", "sort"), "filter"),
    (("add", "checkout", "purchase", "remove"), "cart"),
)

PROXY_EPS = 1e-9
"""eps in the normalised proxy q_i = 100 * q_hat_i / (sum_j q_hat_j + eps)."""


@dataclass(frozen=True)
class Categorisation:
    """Categories of a list of action names and which names had to be guessed by prefix."""

    categories: list[str]
    guessed: dict[str, str]
    """Unknown names -> the category their prefix gave (``nav`` when no prefix matched)."""


def category_of(action: str) -> str:
    """Category of one action name: the table first, then the prefix rules, else ``nav``."""
    if action in KNOWN_ACTIONS:
        return KNOWN_ACTIONS[action]
    lowered = action.lower()
    for prefixes, category in _PREFIXES:
        if lowered.startswith(prefixes):
            return category
    return "nav"


def categorise(actions: Iterable[str]) -> Categorisation:
    """Map action names to categories and report the names that were guessed."""
    actions = list(actions)
    mapping = {a: category_of(a) for a in set(actions)}
    guessed = {a: c for a, c in sorted(mapping.items()) if a not in KNOWN_ACTIONS}
    return Categorisation([mapping[a] for a in actions], guessed)


def weights_of(actions: Iterable[str]) -> npt.NDArray[np.float64]:
    """omega for each action name, shape (len(actions),)."""
    return np.array([CATEGORY_WEIGHTS[category_of(a)] for a in actions], dtype=float)


def demand_proxy(
    product_index: npt.ArrayLike, weights: npt.ArrayLike, n_products: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Raw and normalised demand proxy.

    Args:
        product_index: integer product of each event, shape (n_events,), values in [0, n_products).
        weights: omega of each event, shape (n_events,).
        n_products: N.

    Returns:
        ``(q_hat, q)``: raw weighted counts and the proxy normalised to sum 100
        (``q = 100 * q_hat / (q_hat.sum() + eps)``), both shape (N,).
    """
    idx = np.asarray(product_index, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    if idx.shape != w.shape:
        raise ValueError(f"product_index has shape {idx.shape} but weights has {w.shape}: give one weight per event")
    if idx.size and (idx.min() < 0 or idx.max() >= n_products):
        raise ValueError(f"product_index must lie in [0, {n_products}); got values in [{idx.min()}, {idx.max()}]")
    q_hat = np.bincount(idx, weights=w, minlength=n_products).astype(float)
    return q_hat, 100.0 * q_hat / (q_hat.sum() + PROXY_EPS)


def surge_discount_prices(
    base_prices: npt.ArrayLike,
    q_hat: npt.ArrayLike,
    rho_low: float,
    rho_high: float,
    surge: float = 1.2,
    discount: float = 0.9,
) -> npt.NDArray[np.float64]:
    """The data-collection heuristic: ``p0*surge`` where ``q_hat >= rho_high``,
    ``p0*discount`` where ``q_hat <= rho_low``, else ``p0``. Shapes (N,)."""
    if rho_low > rho_high:
        raise ValueError(f"rho_low ({rho_low}) must not exceed rho_high ({rho_high})")
    p0 = np.asarray(base_prices, dtype=float)
    q = np.asarray(q_hat, dtype=float)
    return np.where(q >= rho_high, p0 * surge, np.where(q <= rho_low, p0 * discount, p0))
