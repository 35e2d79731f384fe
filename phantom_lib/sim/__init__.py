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
from phantom_lib.sim.dynamics import (
    ADVERSARIES,
    ANCHOR_MARKUP,
    REWARD_BASES,
    SCALE_RANGE,
    Candidates,
    Market,
    PricingState,
    StepParams,
    action_index,
    candidate_shares,
    closed_form_rewards,
    initial_state,
    observe,
    price_terms,
    reward_terms,
    robust_step,
)
from phantom_lib.sim.errata import (
    ORIGINAL_NAV_ACTIONS,
    ErrataConfig,
    cart_weight_effect,
    mixture_f_effect,
    resample_effect,
    transposed_kernel,
    walk_effects,
)
from phantom_lib.sim.gym_env import (
    EpisodeLog,
    PhantomPricingEnv,
)
from phantom_lib.sim.market import (
    F_UNSCORED,
    PROXIES,
    SHARE_TOTAL,
    VISITS,
    MarketConfig,
    MarketSample,
    Sampler,
    absorbing_chains,
    agents_in_split,
    market_proxy,
    normalised_proxy,
    proxy_bound,
    search_cdf,
    session_classes,
    step_agent_probability,
    true_demand,
    visit_probability,
    weight_categories,
)
from phantom_lib.sim.probe import (
    adversary_choices,
    revenue_by_share,
)
from phantom_lib.sim.samplers import (
    BACKENDS,
    make_sampler,
)

__all__ = [
    "ADVERSARIES",
    "REWARD_BASES",
    "ANCHOR_MARKUP",
    "BACKENDS",
    "Candidates",
    "EnvConfig",
    "EpisodeLog",
    "ErrataConfig",
    "F_UNSCORED",
    "Market",
    "MarketConfig",
    "MarketSample",
    "ORIGINAL_NAV_ACTIONS",
    "PROXIES",
    "PhantomPricingEnv",
    "PricingState",
    "SCALE_RANGE",
    "SHARE_TOTAL",
    "Sampler",
    "StepParams",
    "absorbing_chains",
    "action_index",
    "adversary_choices",
    "agents_in_split",
    "candidate_shares",
    "cart_weight_effect",
    "closed_form_rewards",
    "initial_state",
    "make_sampler",
    "market_proxy",
    "mixture_f_effect",
    "normalised_proxy",
    "observe",
    "price_terms",
    "proxy_bound",
    "resample_effect",
    "revenue_by_share",
    "reward_terms",
    "robust_step",
    "search_cdf",
    "session_classes",
    "step_agent_probability",
    "transposed_kernel",
    "true_demand",
    "VISITS",
    "visit_probability",
    "walk_effects",
    "weight_categories",
]
