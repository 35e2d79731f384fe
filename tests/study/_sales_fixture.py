"""A SYNTHETIC results folder in the layout the sales study writes, to run chapter 09 before the study exists.

Not a result: every trial's sales revenue is the oracle's E[S] at the proxy-optimal price (the sales
optimum held by the action space for the sales-trained control) times a made-up factor and noise.
The provenance says so (``fixture``). Columns assumed from the sales study's plan (the lead's brief):
``defence``, ``agents_buy``, ``reward_on``, ``eps_alpha`` and the evaluation metrics ``m_sales_revenue``,
``m_sales_revenue_se``, ``m_units_sold``, ``m_proxy_revenue``, ``m_revenue`` (= proxy), ``m_reward``.

    python tests/study/_sales_fixture.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from phantom_lib import data
from phantom_lib.behaviour import load_behaviour
from phantom_lib.sim.oracle import SalesModel
from phantom_lib.study.analysis.regret import oracle_table
from phantom_lib.study.design.designs import TrialConfig

SETTINGS = {"timesteps": 256, "eval_episodes": 2, "max_steps": 20, "n_products": 10, "proxy": "mass",
            "visits": "price_responsive"}
FACTORS = {"algorithm": ["ppo", "qtable"], "alpha0": [0.0, 0.4, 1.0], "defence": ["none", "robust", "filter", "sales"]}
SEEDS = [0, 1, 2]
PREREG = """title = "SYNTHETIC FIXTURE: does a defence change sales revenue?"
registered_after_data = true
registered_on = 2026-12-01
unit_of_resampling = { unit = "twin group: algorithm x alpha0 x agents_buy x seed", reason = "fixture" }
[[hypotheses]]
id = "defence-equivalent"
statement = "each defence's sales revenue is within the margin of no defence"
[[estimands]]
id = "sales-delta"
definition = "100 (mean defended - mean none) / |mean none| sales revenue"
[[rules]]
id = "defence-equivalent"
statement = "TOST at 5 % against the margin"
reason = "fixture"
[[margins]]
name = "sales-delta"
value = 1.0
reason = "fixture: one per cent of sales revenue"
"""


def write(out: Path, seed: int = 0) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    env = TrialConfig.from_mapping({"algorithm": "ppo", **SETTINGS}).env
    oracle = oracle_table(SalesModel.of(load_behaviour("standin"), env, n_draws=4000), FACTORS["alpha0"])
    rng = np.random.default_rng(seed)
    rows = []
    cells = [(*c, True) for c in product(*FACTORS.values())] + [("ppo", a, d, False) for a, d in
                                                                 product(FACTORS["alpha0"], FACTORS["defence"])]
    for (algorithm, alpha, defence, buy), s in product(cells, SEEDS):
        o = oracle[(oracle["alpha"] == alpha) & (oracle["agents_buy"] == buy)].iloc[0]
        target = o["sales_held"] if defence == "sales" else o["sales_at_proxy"]
        sales = float(target * rng.uniform(0.85, 0.98))
        rows.append(
            {
                "trial_id": f"{algorithm}-{alpha}-{defence}-{buy}-{s}",
                "seed": s,
                **SETTINGS,
                "algorithm": algorithm,
                "alpha0": alpha,
                "defence": defence,
                "agents_buy": buy,
                "reward_on": "sales" if defence == "sales" else "proxy",
                "eps_alpha": 0.2 if defence == "robust" else 0.0,
                "status": "ok",
                "error": "",
                "m_sales_revenue": sales,
                "m_sales_revenue_se": 0.02 * sales,
                "m_units_sold": sales / 30,
                "m_proxy_revenue": 2 * sales,
                "m_revenue": 2 * sales,
                "m_reward": sales,
            }
        )
    pd.DataFrame(rows).to_parquet(out / "results.parquet")
    (out / "fixture.prereg.toml").write_text(PREREG)
    provenance = {
        "fixture": "SYNTHETIC FIXTURE written by tests/study/_sales_fixture.py: not a result",
        "data": data.provenance("standin").as_dict(),
        "git_commit": "0" * 40,
        "design_name": "sales-fixture",
        "n_design": len(rows),
        "n_trials": len(rows),
        "n_ok": len(rows),
        "n_failed": 0,
        "finished_utc": "fixture",
        "design": {"factors": {**FACTORS, "agents_buy": [True, False]}, "seeds": SEEDS, "settings": SETTINGS},
        "preregistration": [
            {
                "path": str((out / "fixture.prereg.toml").resolve()),
                "commit": "0" * 40,
                "registered_after_data": True,
                "registered_on": "2026-12-01",
            }
        ],
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1))
    return out


if __name__ == "__main__":
    print(write(Path(sys.argv[1])))
