"""The pricing simulator: the market (follower), the robust pricing loop (leader), three backends.

Third stage: a :class:`~phantom_lib.behaviour.Behaviour` and a :class:`MarketConfig` make a
market (:mod:`~phantom_lib.sim.market`; backends in :mod:`~phantom_lib.sim.samplers`); the pure
step code of :mod:`~phantom_lib.sim.dynamics` runs the robust pricing loop; :class:`PhantomPricingEnv`
is its gymnasium adapter and :mod:`~phantom_lib.sim.jax_env` its functional jax twin (gymnax
style, ``from phantom_lib.sim import jax_env``: not imported here, so using the simulator does
not load jax); :mod:`~phantom_lib.sim.errata` measures where the original engine differed;
:mod:`~phantom_lib.sim.oracle` computes the optimal fixed price of the market that pays for sales
(``from phantom_lib.sim import oracle``).
"""

from phantom_lib.sim.config import (
    EnvConfig,
)
from phantom_lib.sim.dynamics import ANCHOR_MARKUP, SCALE_RANGE, candidate_shares
from phantom_lib.sim.errata import ErrataConfig, cart_weight_effect, mixture_f_effect, resample_effect, walk_effects
from phantom_lib.sim.gym_env import PhantomPricingEnv
from phantom_lib.sim.market import F_UNSCORED, MarketConfig, agents_in_split, true_demand, visit_probability
from phantom_lib.sim.probe import (
    adversary_choices,
    revenue_by_share,
)
from phantom_lib.sim.samplers import (
    BACKENDS,
    make_sampler,
)

__all__ = [
    "ANCHOR_MARKUP", "BACKENDS", "EnvConfig", "ErrataConfig", "F_UNSCORED", "MarketConfig",
    "PhantomPricingEnv", "SCALE_RANGE", "adversary_choices", "agents_in_split", "candidate_shares",
    "cart_weight_effect", "make_sampler", "mixture_f_effect", "resample_effect", "revenue_by_share",
    "true_demand", "visit_probability", "walk_effects",
]
