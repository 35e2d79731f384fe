"""The pricing env's observation: its slots, named once, and its bounds (Model reference, section 6).

The observation :func:`phantom_lib.sim.dynamics.observe` builds is float32, length 2N + 4::

    [q (N), p (N), f_last, alpha_adv_last, alpha0, eps_alpha]

:class:`ObsLayout` names those slots for N products, so a policy or a featuriser reads
``obs[layout.alpha0]`` instead of an index computed by hand. :func:`observation_bounds` is the
box every engine rescales observations by (the gym adapter's ``observation_space`` and the jax
engine's learner view alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phantom_lib._arrays import Float32Array
from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.market import proxy_bound

TAIL = ("f_last", "alpha_adv_last", "alpha0", "eps_alpha")
"""The scalar slots after the two length-N blocks, in order."""


@dataclass(frozen=True)
class ObsLayout:
    """Where each quantity sits in an observation of a market with ``n_products`` products.

    Attributes:
        n_products: N.
    """

    n_products: int

    @property
    def q(self) -> slice:
        """The observed demand proxy q_t, N slots."""
        return slice(0, self.n_products)

    @property
    def p(self) -> slice:
        """The published prices p_t (price units), N slots."""
        return slice(self.n_products, 2 * self.n_products)

    def _tail(self, name: str) -> int:
        return 2 * self.n_products + TAIL.index(name)

    @property
    def f_last(self) -> int:
        """The last step's agent probability f."""
        return self._tail("f_last")

    @property
    def alpha_adv_last(self) -> int:
        """The last step's adversarial agent share."""
        return self._tail("alpha_adv_last")

    @property
    def alpha0(self) -> int:
        """The nominal agent share alpha0 (in evaluation: the share evaluated at)."""
        return self._tail("alpha0")

    @property
    def eps_alpha(self) -> int:
        """The robustness half-width eps_alpha."""
        return self._tail("eps_alpha")

    @property
    def size(self) -> int:
        """Length of the observation, 2N + 4."""
        return 2 * self.n_products + len(TAIL)


def observation_bounds(config: EnvConfig, behaviour: Behaviour) -> tuple[Float32Array, Float32Array]:
    """The observation box ``(low, high)`` of ``config``'s env, float32 shape (2N + 4,) each.

    q lies in [0, :func:`~phantom_lib.sim.market.proxy_bound`], p in [p_low, p_high], f, the
    adversarial share and alpha0 in [0, 1], eps_alpha in [0, max(1, eps_alpha)].
    """
    layout = ObsLayout(config.market.n_products)
    low = np.zeros(layout.size)
    high = np.ones(layout.size)
    low[layout.p], high[layout.p] = config.p_low, config.p_high
    high[layout.q] = proxy_bound(config.market, behaviour.weights)
    high[layout.eps_alpha] = max(1.0, float(config.eps_alpha))
    return low.astype(np.float32), high.astype(np.float32)
