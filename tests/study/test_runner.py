"""The factorial design, the results store, failure handling and resume."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from _kill import kill_after

from phantom_lib import study
from phantom_lib.study.design import store as study_store


def test_published_design_has_192_unique_configurations():
    trials = study.design(study.StudyDesign(study.FACTORS, seeds=(0,)))
    assert len(trials) == 192
    configs = {tuple(sorted(t.config.items())) for t in trials}
    assert len(configs) == 192
    assert len({t.trial_id for t in trials}) == 192



def test_full_profile_adds_one_baseline_twin_per_cell_and_the_reference_anchors():
    profile = study.DESIGNS["full"]
    trials = study.design(profile)
    seeds = len(profile.seeds)
    by_variant = {v: [t for t in trials if t.config["variant"] == v] for v in ("defended", "baseline", "reference")}
    assert len(by_variant["defended"]) == 192 * seeds
    # twins depend on (algorithm, alpha0, action_levels) only: 4 x 4 x 2
    assert len(by_variant["baseline"]) == 32 * seeds
    # references: 5 policies x (alpha0, lambda_coi, action_levels) = 5 x 4 x 2 x 2
    assert len(by_variant["reference"]) == 80 * seeds
    assert len(trials) == len({t.trial_id for t in trials})
    twin_keys = {(t.config["algorithm"], t.config["alpha0"], t.config["action_levels"], t.seed)
                 for t in by_variant["baseline"]}
    for t in by_variant["baseline"]:
        assert (t.config["lambda_coi"], t.config["eps_alpha"], t.config["n_candidates"]) == (0.0, 0.0, 1)
    assert all((t.config["algorithm"], t.config["alpha0"], t.config["action_levels"], t.seed) in twin_keys
               for t in by_variant["defended"])
    # seed by seed: every trial of seed 0 comes before any of seed 1
    seeds_in_order = [t.seed for t in trials]
    assert seeds_in_order == sorted(seeds_in_order)


def test_profile_validation():
    with pytest.raises(ValueError, match="seeds"):
        study.StudyDesign({"a": (1,)}, seeds=())
    with pytest.raises(ValueError, match=r"StudyDesign.settings = .*no name that is also a factor \(both: \['a'\]\)"):
        study.StudyDesign({"a": (1,)}, seeds=(0,), settings={"a": 2})
    with pytest.raises(ValueError, match="'algorithm' factor"):
        study.StudyDesign({"a": (1,)}, seeds=(0,), baseline_twins=True)


def flaky(config, seed):
    if config["x"] == 2:
        raise RuntimeError("trial x=2 always fails")
    return {"score": config["x"] * 10 + seed, "curve": [1.0, 2.0]}


TINY = study.StudyDesign({"x": (1, 2, 3)}, seeds=(0, 1), settings={"budget": 5})


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_failing_trial_is_recorded_and_the_others_finish(tmp_path, executor, request):
    if executor == "ray":
        ray = request.getfixturevalue("ray_cluster")
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    store = study.ResultsStore(tmp_path)
    results = study.run_trials(study.design(TINY), flaky, store, study.SweepOptions(executor=executor, progress=False))
    assert len(results) == 6
    failed = results[results.status == "error"]
    assert sorted(failed.x) == [2, 2] and failed.error.str.contains("trial x=2 always fails").all()
    ok = results[results.status == "ok"].sort_values(["x", "seed"])
    assert ok.m_score.tolist() == [10, 11, 30, 31]
    assert ok.budget.tolist() == [5] * 4
    assert list(ok.m_curve.iloc[0]) == [1.0, 2.0]
    # resume re-runs only the failed ones
    again = study.run_trials(study.design(TINY), flaky, store, study.SweepOptions(executor=executor, progress=False))
    assert len(again) == 6 and (again.status == "error").sum() == 2


SLOW_MODULE = """
import time
from pathlib import Path

def train(config, seed):
    log = Path(config["log"])
    with log.open("a") as handle:
        handle.write(f"{config['x']}-{seed}\\n")
    time.sleep(0.4)
    return {"score": config["x"]}
"""


def test_resume_after_a_killed_sweep_runs_only_the_missing_trials(tmp_path):
    (tmp_path / "slowtrain.py").write_text(SLOW_MODULE)
    log = tmp_path / "calls.log"
    profile = study.StudyDesign({"x": tuple(range(8))}, seeds=(0,), settings={"log": str(log)})
    out = tmp_path / "results"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import slowtrain
        from phantom_lib import study
        profile = study.StudyDesign({{"x": tuple(range(8))}}, seeds=(0,), settings={{"log": {str(log)!r}}})
        study.run_trials(study.design(profile), slowtrain.train, study.ResultsStore({str(out)!r}),
                         study.SweepOptions(executor="local", progress=False))
    """)
    kill_after(script, out / "trials", 3)
    store = study.ResultsStore(out)
    finished_before = store.finished()
    assert 3 <= len(finished_before) < 8, "the sweep should have been killed mid-run"
    calls_before = log.read_text().split()

    sys.path.insert(0, str(tmp_path))
    try:
        import slowtrain

        results = study.run_trials(study.design(profile), slowtrain.train, store,
                                   study.SweepOptions(executor="local", progress=False))
    finally:
        sys.path.remove(str(tmp_path))
    assert len(results) == 8 and (results.status == "ok").all()
    calls_after = log.read_text().split()[len(calls_before):]
    rerun = {t.trial_id for t in study.design(profile) if f"{t.config['x']}-0" in calls_after}
    assert rerun == {t.trial_id for t in study.design(profile)} - finished_before
    assert len(calls_after) == len(rerun)


def test_a_killed_run_keeps_its_wall_time_up_to_its_last_trial(tmp_path, monkeypatch):
    clock = iter([100.0, 130.0, 160.0, 500.0, 520.0, 540.0])  # the unix times the store reads, in order
    monkeypatch.setattr(study_store.time, "time", lambda: next(clock))
    store = study.ResultsStore(tmp_path)
    first, second, third = study.design(TINY)[:3]
    store.log_run("start", "abc")  # 100
    store.write(first, {"score": 1}, None, 1.0)  # finished at 130
    store.write(second, {"score": 2}, None, 1.0)  # finished at 160, then the run is killed
    store.log_run("start", "abc")  # 500: --resume
    store.write(third, {"score": 3}, None, 1.0)  # 520
    store.log_run("end", "abc")  # 540
    runs = store.runs()
    assert runs["seconds"].tolist() == [60.0, 40.0]
    assert runs["interrupted"].tolist() == [True, False]
    assert runs["ended_unix"].tolist() == [160.0, 540.0]
    with pytest.raises(ValueError, match="'start' or 'end'"):
        store.log_run("stop")


def test_sweep_refuses_to_overwrite_without_resume(tmp_path):
    options = study.SweepOptions(trainable=f"{__name__}:flaky", executor="local", progress=False)
    plan = study.StudyPlan("tiny", TINY, kind="smoke")
    first = study.sweep(plan, tmp_path, options)
    assert len(first) == 6
    prov = (tmp_path / "provenance.json").read_text()
    assert '"n_failed": 2' in prov and '"design_name": "tiny"' in prov
    record = json.loads(prov)
    assert record["engine"]["name"] == "sb3" and record["engine"]["device_kind"] == "cpu"
    assert len(record["runs"]) == 1 and not record["runs"][0]["interrupted"]
    assert record["wall_seconds_all_runs"] == pytest.approx(record["runs"][0]["seconds"], abs=0.1)
    with pytest.raises(FileExistsError, match="--resume"):
        study.sweep(plan, tmp_path, options)


@pytest.mark.slow
def test_smoke_sweep_through_ray_records_one_row_per_trial(tmp_path, ray_cluster):

    trials = study.design(study.DESIGNS["smoke"])
    results = study.run_trials(trials, study.train, study.ResultsStore(tmp_path),
                               study.SweepOptions(executor="ray", progress=False))
    assert sorted(results.trial_id) == sorted(t.trial_id for t in trials)
    assert (results.status == "ok").all(), results.loc[results.status != "ok", "error"].tolist()
    trained = results[results.variant != "reference"]
    assert (trained.m_train_steps >= 256).all()
    assert (results[results.variant == "reference"].m_train_steps == 0).all()


def test_trial_ids_keep_whole_words_and_stay_unique():
    trials = study.design(study.DESIGNS["as-run"])
    assert len({t.trial_id for t in trials}) == len(trials)
    for trial in trials:
        readable = trial.trial_id.rsplit("-seed=", 1)[0]
        words = readable.split("-")[1:]
        full = {f"{k}={v}".replace(" ", "_") for k, v in trial.config.items()}
        assert all(word in full for word in words), trial.trial_id  # no word cut short
        assert len(readable) <= 120
    assert any(len(t.trial_id.rsplit('-seed=', 1)[0]) > 100 for t in trials)  # long enough to need cutting


def test_run_trials_writes_what_load_results_reads_for_a_design_without_twins(tmp_path):
    spec = study.StudyDesign({"x": (1, 3)}, seeds=(0, 1))
    study.run_trials(study.design(spec), flaky, study.ResultsStore(tmp_path), study.SweepOptions(executor="local",
                                                                                                 progress=False))
    loaded = study.load_results(tmp_path)
    assert sorted(loaded.trials["score"]) == [10, 11, 30, 31]
    assert set(loaded.trials["variant"]) == {"defended"} and loaded.baseline.empty
    assert loaded.provenance["kind"] == "trials" and loaded.provenance["n_design"] == 4
    assert loaded.provenance["trainable"] == f"{__name__}:flaky"
    assert sorted(json.loads((tmp_path / "manifest.json").read_text())["files"]) == [
        "provenance.json", "results.parquet", "runs.jsonl"]


def test_a_second_run_on_a_locked_folder_fails_naming_the_holder(tmp_path):
    import os

    store = study.ResultsStore(tmp_path)
    with store.lock():
        with pytest.raises(study_store.FolderInUseError, match=rf"in use by another run \(pid {os.getpid()}\)"):
            study.run_trials(study.design(TINY), flaky, study.ResultsStore(tmp_path),
                             study.SweepOptions(executor="local", progress=False))
    assert not store.runs_path.exists()  # the refused run wrote nothing
    assert len(study.run_trials(study.design(TINY), flaky, store, study.SweepOptions(executor="local",
                                                                                       progress=False))) == 6


def test_a_truncated_trial_file_is_moved_aside_and_its_trial_runs_again(tmp_path, capsys):
    store = study.ResultsStore(tmp_path)
    options = study.SweepOptions(executor="local", progress=False)
    study.run_trials(study.design(TINY), flaky, store, options)
    victim = study.design(TINY)[0]
    path = store.path(victim.trial_id)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert victim.trial_id not in store.finished()
    err = capsys.readouterr().err.strip()
    assert err == (f"[phantom] {path} cannot be read ({err.split('(', 1)[1].split(')')[0]}): moved to "
                   f"{store.corrupt_dir / path.name}; its trial will run again (--resume)")
    assert (store.corrupt_dir / path.name).exists() and not path.exists()
    again = study.run_trials(study.design(TINY), flaky, store, options)
    assert len(again) == 6 and victim.trial_id in set(again.trial_id) and path.exists()


def test_the_progress_bar_shows_an_eta_only_after_two_tasks():
    from phantom_lib.study.run.runner import _Progress

    bar = _Progress(total=10, done=0, enabled=True)
    assert "remaining" not in (bar.bar.bar_format or "") and "ETA after two tasks" in str(bar.bar)
    bar.update(1)
    assert "ETA after two tasks" in str(bar.bar)
    bar.update(1)
    assert bar.bar.bar_format is None and "<" in str(bar.bar)  # tqdm's default: elapsed<remaining
    bar.close()
