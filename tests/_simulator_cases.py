"""Hand-built behaviour shared by the simulator tests (market, samplers, env)."""

from __future__ import annotations

import pandas as pd

from phantom_lib.behaviour.model import Behaviour

HUMAN_SESSIONS = [
    ["page_view", "hover_over_title", "view_item_page", "learn_more_about_item", "page_view"],
    ["page_view", "view_item_page", "hover_over_title", "page_view", "view_item_page", "add_item_to_cart"],
    ["page_view", "page_view", "hover_over_title", "learn_more_about_item"],
    ["view_item_page", "hover_over_title", "add_item_to_cart", "checkout_start"],
    ["page_view", "learn_more_about_item", "hover_over_title", "page_view"],
]
AGENT_SESSIONS = [
    ["page_view", "view_item_page", "add_item_to_cart", "checkout_start"],
    ["view_item_page", "add_item_to_cart", "view_item_page", "add_item_to_cart", "checkout_start"],
    ["page_view", "view_item_page", "view_item_page", "add_item_to_cart"],
    ["view_item_page", "learn_more_about_item", "add_item_to_cart", "checkout_start"],
]


def trajectory_table() -> pd.DataFrame:
    """A small trajectory table (columns trajectory, actor, step, event) of both classes."""
    rows = [
        {"trajectory": f"{actor[0]}{i}", "actor": actor, "step": step, "event": event}
        for actor, sessions in (("human", HUMAN_SESSIONS), ("agent", AGENT_SESSIONS))
        for i, events in enumerate(sessions)
        for step, event in enumerate(events)
    ]
    return pd.DataFrame(rows)


def behaviour() -> Behaviour:
    """Behaviour estimated from :func:`trajectory_table` (6 events + session_end)."""
    return Behaviour.from_trajectories(trajectory_table())
