"""Regret against the oracle, its decomposition and the defence effect, on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from phantom_lib.behaviour import load_behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.oracle import SalesModel, oracle_frame
from phantom_lib.study.analysis import equivalence as eq
from phantom_lib.study.analysis import regret

ORACLE = pd.DataFrame({
    "alpha": [0.0, 0.5, 0.5], "agents_buy": [True, True, False],
    "sales_star": [100.0, 80.0, 60.0], "sales_star_se": [0.5, 0.4, 0.3],
    "sales_held": [90.0, 75.0, 58.0], "sales_at_proxy": [80.0, 77.0, 40.0],
})


def trials(**columns) -> pd.DataFrame:
    base = {"algorithm": ["ppo"], "alpha0": [0.0], "seed": [0], "defence": ["none"], "agents_buy": [True],
            "sales_revenue": [72.0], "sales_revenue_se": [2.0]}
    return pd.DataFrame(base | columns)


def test_regret_and_its_standard_error_by_hand():
    out = regret.trial_regret(trials(), ORACLE).iloc[0]
    assert out["regret"] == pytest.approx(0.28, abs=1e-12)  # 1 - 72 / 100
    # sqrt((2 / 100)^2 + (72 * 0.5 / 100^2)^2) = sqrt(4e-4 + 1.296e-5)
    assert out["regret_se"] == pytest.approx(math.sqrt(4e-4 + 1.296e-5), rel=1e-12)


def test_decomposition_by_hand_and_it_adds_up():
    frame = trials(alpha0=[0.0, 0.0, 0.5, 0.5], seed=[0, 0, 1, 1], defence=["none", "sales", "robust", "none"],
                   agents_buy=[True, True, True, False], sales_revenue=[72.0, 72.0, 79.0, 41.0],
                   algorithm=["ppo"] * 4, sales_revenue_se=[1.0] * 4)
    out = regret.trial_regret(frame, ORACLE)
    # proxy learner at 0: cost 28 = restriction 10 + objective 10 + learning 8
    assert out.loc[0, ["cost", "restriction", "objective", "learning"]].tolist() == [28.0, 10.0, 10.0, 8.0]
    # the sales-trained control has no objective term: learning = E[S(p*_A)] - S = 18
    assert out.loc[1, ["cost", "restriction", "objective", "learning"]].tolist() == [28.0, 10.0, 0.0, 18.0]
    # p_q* earns more sales than p*_A here: a negative objective term, and a policy beating p_q* learns negatively
    assert out.loc[2, ["cost", "restriction", "objective", "learning"]].tolist() == [1.0, 5.0, -2.0, -2.0]
    # agents_buy = False picks its own oracle row
    assert out.loc[3, "regret"] == pytest.approx(1 - 41 / 60)
    parts = out["restriction"] + out["objective"] + out["learning"]
    assert np.array_equal(parts.to_numpy(), out["cost"].to_numpy())


def test_missing_oracle_row_names_the_share():
    with pytest.raises(ValueError, match=r"alpha0 = 0.25, agents_buy = True"):
        regret.trial_regret(trials(alpha0=[0.25]), ORACLE)


def test_without_a_trial_se_the_regret_se_is_unknown():
    out = regret.trial_regret(trials().drop(columns="sales_revenue_se"), ORACLE).iloc[0]
    assert out["regret"] == pytest.approx(0.28) and math.isnan(out["regret_se"])


def test_defence_derived_from_reward_basis_and_radius():
    frame = pd.DataFrame({"reward_on": ["proxy", "sales", "proxy"], "eps_alpha": [0.0, 0.0, 0.2]})
    out = regret.with_defence(frame)
    assert out["defence"].tolist() == ["none", "sales", "robust"] and out["agents_buy"].all()
    with pytest.raises(ValueError, match="trials.defence = 'shield'"):
        regret.with_defence(pd.DataFrame({"defence": ["shield"]}))


def test_summary_interval_over_seeds_by_hand():
    frame = trials(seed=[0, 1, 2], alpha0=[0.0] * 3, sales_revenue=[70.0, 72.0, 74.0], algorithm=["a2c"] * 3,
                   defence=["none"] * 3, agents_buy=[True] * 3, sales_revenue_se=[1.0] * 3)
    row = regret.regret_summary(regret.trial_regret(frame, ORACLE)).iloc[0]
    half = 4.302652729911275 * 2.0 / math.sqrt(3)  # t_{0.975, 2} x sd 2 / sqrt 3
    assert (row["sales_revenue"], row["sales_revenue_lo"], row["sales_revenue_hi"]) == pytest.approx(
        (72.0, 72 - half, 72 + half)
    )
    assert row["regret"] == pytest.approx(0.28) and row["n_seeds"] == 3


def pairs_frame(ratios: list[float]) -> pd.DataFrame:
    """Undefended trials with revenue 100 + 10 i and robust twins at ratio_i times that."""
    n = len(ratios)
    base = 100.0 + 10.0 * np.arange(n)
    rows = {
        "algorithm": ["ppo"] * 2 * n,
        "alpha0": [0.4] * 2 * n,
        "agents_buy": [True] * 2 * n,
        "seed": list(range(n)) * 2,
        "defence": ["none"] * n + ["robust"] * n,
        "sales_revenue": list(base) + list(base * np.asarray(ratios)),
    }
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("margin", "verdict"), [(0.6, eq.EQUIVALENT), (0.4, eq.NOT_EQUIVALENT)])
def test_tost_verdict_flips_across_the_margin(margin, verdict):
    """Every twin group loses exactly 0.5 %: every bootstrap draw is -0.5 %, inside a 0.6 margin, outside 0.4."""
    pairs = regret.defence_pairs(pairs_frame([0.995] * 6), "robust")
    out = regret.defence_effect(pairs, margin, n_boot=500)
    assert out["delta"] == pytest.approx(-0.5) and out["verdict"] == verdict
    assert (out["lo90"], out["hi90"]) == pytest.approx((-0.5, -0.5))


def test_tost_inconclusive_when_the_interval_straddles_the_margin():
    pairs = regret.defence_pairs(pairs_frame([0.97, 1.03, 0.99, 1.01, 0.98, 1.02]), "robust")
    assert regret.defence_effect(pairs, 1.0, n_boot=2000)["verdict"] == eq.INCONCLUSIVE


def test_defence_effects_per_alpha_and_pooled_over_positive_shares():
    a = pairs_frame([0.99] * 3)
    b = pairs_frame([1.02] * 3).assign(alpha0=0.0)
    table = regret.defence_effects(pd.concat([a, b], ignore_index=True), 1.0, n_boot=200)
    pooled = table[table["alpha0"] == "pooled"].iloc[0]
    assert pooled["delta"] == pytest.approx(-1.0) and pooled["n_pairs"] == 3  # alpha0 = 0 left out
    assert set(table["alpha0"]) == {0.0, 0.4, "pooled"}
    nobody_buys = pairs_frame([1.0] * 3).assign(alpha0=1.0, sales_revenue=0.0)
    with_empty = regret.defence_effects(pd.concat([a, nobody_buys], ignore_index=True), 1.0, n_boot=200)
    assert set(with_empty["alpha0"]) == {0.4, "pooled"}
    assert with_empty.set_index("alpha0").loc["pooled", "n_pairs"] == 3


PREREG = """title = "t"
registered_after_data = false
registered_on = 2026-12-01
unit_of_resampling = {{ unit = "twin group", reason = "r" }}
[[hypotheses]]
id = "h"
statement = "s"
[[estimands]]
id = "e"
definition = "d"
[[rules]]
id = "h"
statement = "s"
reason = "r"
{margins}
"""


def test_margin_read_from_the_preregistration(tmp_path):
    one = tmp_path / "one.prereg.toml"
    one.write_text(PREREG.format(margins='[[margins]]\nname = "sales-delta"\nvalue = 1.5\nreason = "why"\n'))
    margin = regret.registered_margin(one)
    assert (margin.value, margin.reason) == (1.5, "why")
    two = tmp_path / "two.prereg.toml"
    two.write_text(
        PREREG.format(
            margins='[[margins]]\nname = "a"\nvalue = 1\nreason = "x"\n'
            '[[margins]]\nname = "b"\nvalue = 2\nreason = "y"\n'
        )
    )
    assert regret.registered_margin(two, "b").value == 2
    with pytest.raises(ValueError, match="declares 2 margins"):
        regret.registered_margin(two)
    with pytest.raises(ValueError, match=r"name = 'c': expected one of \['a', 'b'\]"):
        regret.registered_margin(two, "c")


def test_oracle_table_per_agents_buy():
    """At alpha = 0 there are no agents, so whether they buy cannot matter; at alpha = 1 with agents
    that do not buy there are no sales at all."""
    config = EnvConfig().replace(n_products=3, proxy="mass", visits="price_responsive")
    model = SalesModel.of(load_behaviour("standin"), config, n_draws=2000)
    table = regret.oracle_table(model, [0.0, 1.0])
    buy, not_buy = (table[table["agents_buy"] == b].set_index("alpha") for b in (True, False))
    assert buy.loc[0.0, "sales_star"] == pytest.approx(not_buy.loc[0.0, "sales_star"], rel=1e-12)
    assert not_buy.loc[1.0, "sales_star"] == 0 and buy.loc[1.0, "sales_star"] > 0
    assert (buy["sales_star_se"] > 0).all()
    same = oracle_frame(model.with_market(agents_buy=True), [0.0, 1.0])
    np.testing.assert_allclose(buy["p_star"].to_numpy(), same["p_star"].to_numpy())


def test_sales_findings_read_the_registered_margin_and_flip_at_it(tmp_path):
    from phantom_lib.book import findings

    path = tmp_path / "sales.prereg.toml"
    path.write_text(PREREG.format(margins='[[margins]]\nname = "sales-delta"\nvalue = 1.0\nreason = "why"\n'))
    robust = findings.sales_findings(path, "abc123")[0]
    assert robust.null.registered == "abc123" and robust.null.margin.value == 1.0
    values = {name: 0.0 for name in robust.glue}
    inside = values | {"eff_robust_buy_lo90": -0.9, "eff_robust_buy_hi90": 0.9}
    straddles = values | {"eff_robust_buy_lo90": -1.1, "eff_robust_buy_hi90": 0.9}
    outside = values | {"eff_robust_buy_lo90": 1.1, "eff_robust_buy_hi90": 1.5}
    assert findings.decide(robust, inside).startswith(eq.EQUIVALENT)
    assert findings.decide(robust, straddles) == eq.INCONCLUSIVE
    assert findings.decide(robust, outside) == eq.NOT_EQUIVALENT
    assert robust.key not in findings.after_the_data([robust])
