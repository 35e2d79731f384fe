"""The reference market backend: the original engine's hot path, kept on purpose.

It computes the same model as the other backends but the way the original PHANTOM engine
did, so the book can profile it and show where the time went (Model reference, section 8):

* the Kronecker expansion kron(T_Y, outer(c_Y, c_Y)) is rebuilt as a string-keyed pandas frame
  ("event|product" labels, (E*N) x (E*N) floats) for every candidate and class, 2K times per step;
* every sampled state looks its row up by label (``DataFrame.xs``), passes it through
  ``nan_to_num`` and renormalises it, then draws the next label with a weighted choice and
  parses the label back into (event, product).

Unlike the original, rows are sources (erratum 1) and sessions start from pi0 and the demand
condition (erratum 3). Memory grows as (E*N)^2: at E = 9 and N = 1000 one frame needs 648 MB.
With price-responsive visits (our extension, Model reference, section 10) each session first
draws one uniform and visits when it is below its class's rho_Y: the literal Bernoulli thinning
the other backends replace by one Binomial count per class and candidate. A session whose last
recorded state is ``checkout_start`` buys one unit of that state's product (sales, Model
reference, section 12; agents only with ``MarketConfig.agents_buy``): read off the walk, no
extra draw. With the filtering defence (``MarketConfig.filter_tpr`` / ``filter_fpr``) each visiting
session then draws one more uniform and is left out of q when flagged (it still buys and counts in f).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib.behaviour.kernels import demand_condition
from phantom_lib.behaviour.model import Behaviour
from phantom_lib.data.events import SESSION_END, demand_proxy
from phantom_lib.sim.market import (
    MarketConfig,
    MarketSample,
    Sampler,
    agents_in_split,
    market_proxy,
    step_agent_probability,
    visit_probability,
)

SEPARATOR = "|"
"""Joins event and product into an expanded state label."""


def state_labels(labels: Sequence[str], n_products: int) -> pd.Index:
    """The expanded states' labels "event|product", event-major (state (e, p) at e * N + p)."""
    return pd.Index([f"{event}{SEPARATOR}{product}" for event in labels for product in range(n_products)])


def expanded_frame(states: pd.Index, matrix: FloatArray, condition: FloatArray) -> pd.DataFrame:
    """The expanded kernel as the original built it: kron(T, outer(c, c)), string-keyed.

    Args:
        states: :func:`state_labels`, length E*N. matrix: event kernel T, shape (E, E).
        condition: demand condition c, shape (N,).

    Returns:
        frame (E*N) x (E*N) indexed by "event|product" (rows = source), rows divided by their
        sums (rows of products with c = 0 are 0/0 = NaN, as in the original).
    """
    expanded = np.kron(matrix, np.outer(condition, condition))
    with np.errstate(invalid="ignore", divide="ignore"):
        expanded = expanded / expanded.sum(axis=1, keepdims=True)
    return pd.DataFrame(expanded, index=states, columns=states)


class ReferenceSampler(Sampler):
    """Market backend mirroring the original pandas hot path (slow on purpose; see module docstring)."""

    name = "reference"

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        super().__init__(behaviour, config)
        self.states = state_labels(behaviour.labels, config.n_products)
        self._choices = self.states.to_numpy(dtype=object)

    def _session(
        self, frame: pd.DataFrame, pi0: FloatArray, condition: FloatArray, rng: np.random.Generator
    ) -> tuple[list[int], list[int]]:
        """One session: (event indices, product indices) of its recorded states."""
        labels = self.behaviour.labels
        stop = {labels[i] for i in self.behaviour.stop}
        event = labels[rng.choice(len(labels), p=pi0)]
        product = int(rng.choice(condition.size, p=condition))
        events: list[int] = []
        products: list[int] = []
        while event != SESSION_END and len(events) < self.config.max_len:
            events.append(labels.index(event))
            products.append(product)
            if event in stop:
                break
            row = np.nan_to_num(frame.xs(f"{event}{SEPARATOR}{product}").to_numpy())
            event, product_label = rng.choice(self._choices, p=row / row.sum()).split(SEPARATOR)
            product = int(product_label)
        return events, products

    def sample_at(
        self, demand: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator
    ) -> MarketSample:
        cfg = self.config
        behaviour = self.behaviour
        n_agents = agents_in_split(cfg.n_sessions, alphas)
        condition = demand_condition(demand)
        responsive = cfg.visits == "price_responsive"
        rho = visit_probability(np, demand) if responsive else np.ones(2)
        k, m = n_agents.size, cfg.n_sessions
        paths = np.full((k, m, cfg.max_len), -1, dtype=np.int64)
        q_hat = np.zeros((k, cfg.n_products))
        sales = np.zeros((k, cfg.n_products), dtype=np.int64)
        stop = set(behaviour.stop)
        keep = cfg.filter_keep
        for j, n_a in enumerate(n_agents):
            for y, sessions in ((0, range(m - n_a)), (1, range(m - n_a, m))):
                frame = expanded_frame(self.states, behaviour.matrices[y], condition[y])
                for session in sessions:
                    if responsive and not rng.random() < rho[y]:
                        continue  # the session does not visit: it records nothing
                    events, products = self._session(frame, behaviour.pi0[y], condition[y], rng)
                    paths[j, session, : len(events)] = events
                    if keep is None or rng.random() < keep[y]:  # a flagged session leaves q
                        q_hat[j] += demand_proxy(products, behaviour.weights[events], cfg.n_products)[0]
                    if events and events[-1] in stop and cfg.buyers[y]:
                        sales[j, products[-1]] += 1
        return MarketSample(
            q=market_proxy(np, q_hat, cfg.proxy, cfg.n_sessions),
            f=step_agent_probability(paths, behaviour, cfg.temperature),
            demand=demand,
            n_states=(paths >= 0).sum(axis=(1, 2)),
            sales=sales,
        )


SAMPLER = ReferenceSampler
