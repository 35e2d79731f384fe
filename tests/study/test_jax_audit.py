"""The audit of committed jax results: which trials ran a program built for more candidates than they score."""

import json

import pandas as pd

from phantom_lib.study.design.store import ResultsStore
from phantom_lib.study.jax import audit


def test_a_trial_is_affected_when_its_last_batch_was_led_by_a_config_naming_more_candidates(tmp_path):
    tmp_path = tmp_path / "results" / "sweep"
    tmp_path.mkdir(parents=True)
    results = pd.DataFrame({
        "trial_id": ["lead5", "twin", "eps0", "lead1", "other", "k5"],
        "algorithm": ["ppo"] * 6, "variant": ["defended", "baseline", "defended", "baseline", "defended", "defended"],
        "alpha0": [0.1, 0.1, 0.4, 0.1, 0.4, 0.4], "eps_alpha": [0.0, 0.0, 0.0, 0.0, 0.0, 0.15],
        "lambda_coi": [0.15, 0.0, 0.3, 0.0, 0.3, 0.3], "seed": [0, 0, 0, 1, 1, 1],
        "n_candidates": [5, 1, 5, 1, 5, 5], "status": ["ok"] * 6,
    })
    results.to_parquet(tmp_path / "results.parquet")
    store = ResultsStore(tmp_path)
    store.log_batch({"slice": {"n_candidates": 1}, "trial_ids": ["lead5", "twin", "eps0"]})  # K = 5 leader: all three
    store.log_batch({"slice": {"n_candidates": 1}, "trial_ids": ["lead1", "other"]})  # K = 1 leader: none
    store.log_batch({"slice": {"n_candidates": 5}, "trial_ids": ["k5"]})  # scores its 5: none
    store.log_batch(
        {"slice": {"n_candidates": 1}, "trial_ids": ["twin", "lead1"]}
    )  # twin re-run (resumed), K = 1 leader
    hit = audit.affected_trials(tmp_path)
    assert hit["trial_id"].tolist() == ["lead5", "eps0"]
    assert hit["program_k"].tolist() == [5, 5] and hit["scored_k"].tolist() == [1, 1]
    counts = audit.affected_counts(tmp_path.parent).set_index("folder").loc[tmp_path.name]
    assert (counts["trials"], counts["affected"]) == (6, 2)


def test_a_batch_the_fixed_engine_wrote_is_not_affected_whoever_leads_it(tmp_path):
    results = pd.DataFrame({
        "trial_id": ["lead5", "twin"], "algorithm": ["ppo"] * 2, "variant": ["defended", "baseline"],
        "alpha0": [0.1, 0.1], "eps_alpha": [0.0, 0.0], "lambda_coi": [0.15, 0.0], "seed": [0, 0],
        "n_candidates": [5, 1], "status": ["ok"] * 2,
    })
    results.to_parquet(tmp_path / "results.parquet")
    ResultsStore(tmp_path).log_batch({"slice": {"n_candidates": 1}, "trial_ids": ["lead5", "twin"], "padding": 0})
    assert audit.affected_trials(tmp_path).empty


def _crosscheck_rows(**extra) -> pd.DataFrame:
    return pd.DataFrame({
        "engine": ["jax", "jax", "jax", "sb3", "best_fixed_jax"], "algorithm": ["ppo"] * 5,
        "alpha0": [0.6, 0.1, 0.6, 0.6, 0.6], "eps_alpha": [0.0, 0.15, 0.0, 0.0, 0.0],
        "lambda_coi": [0.15] * 5, "seed": [0, 0, 1, 0, 0], "n_candidates": [5, 5, 5, 5, 5], **extra,
    })


def test_an_old_crosscheck_jax_row_at_eps_0_naming_k_5_is_affected_and_a_fixed_one_is_not(tmp_path):
    _crosscheck_rows().to_parquet(tmp_path / "trials.parquet")
    hit = audit.affected_crosscheck(tmp_path)
    assert hit["seed"].tolist() == [0, 1] and hit["program_k"].tolist() == [5, 5] and hit["scored_k"].tolist() == [1, 1]
    _crosscheck_rows(program_k=[1, 5, 1, None, None]).to_parquet(tmp_path / "trials.parquet")
    assert audit.affected_crosscheck(tmp_path).empty
    _crosscheck_rows(program_k=[1, 5, 5, None, None]).to_parquet(tmp_path / "trials.parquet")
    assert audit.affected_crosscheck(tmp_path)["seed"].tolist() == [1]


def test_a_folder_is_batch_invariant_only_when_every_record_names_the_engine_s_xla_options(tmp_path):
    from phantom_lib.study.jax.engine import XLA_OPTIONS

    def sweep(name, *options):
        folder = tmp_path / name
        folder.mkdir()
        store = ResultsStore(folder)
        for i, option in enumerate(options):
            recorded = {} if option is None else {"xla_options": option}
            store.log_batch({"slice": {}, "trial_ids": [f"t{i}"], **recorded})
        return folder

    assert audit.batch_invariant(sweep("new", XLA_OPTIONS, XLA_OPTIONS)) == "yes"
    assert audit.batch_invariant(sweep("old", None, None)) == "no"
    assert audit.batch_invariant(sweep("resumed", None, XLA_OPTIONS)) == "mixed"
    assert audit.batch_invariant(sweep("other", {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_REDUCE"},
                                       XLA_OPTIONS)) == "mixed"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert audit.batch_invariant(empty) == "-"
    check = tmp_path / "crosscheck"
    check.mkdir()
    _crosscheck_rows().to_parquet(check / "trials.parquet")
    assert audit.batch_invariant(check) == "no"
    _crosscheck_rows(xla_options=[json.dumps(XLA_OPTIONS)] * 3 + [None, None]).to_parquet(check / "trials.parquet")
    assert audit.batch_invariant(check) == "yes"  # sb3 and best_fixed rows are not jax-trained


def test_a_crosscheck_joined_from_an_old_and_a_new_run_is_mixed_not_an_error(tmp_path):
    """Rows of a run that wrote no ``xla_options`` read back as NaN once joined with rows that did."""
    from phantom_lib.study.jax.engine import XLA_OPTIONS

    old = _crosscheck_rows()
    new = _crosscheck_rows(xla_options=[json.dumps(XLA_OPTIONS)] * 3 + [None, None])
    joined = pd.concat([old, new], ignore_index=True)
    joined.to_parquet(tmp_path / "trials.parquet")
    assert pd.read_parquet(tmp_path / "trials.parquet")["xla_options"].isna().sum() == 7
    assert audit.batch_invariant(tmp_path) == "mixed"
