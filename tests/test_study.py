"""The factorial design, the results store, failure handling and resume."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from phantom_lib import study


def test_published_design_has_192_unique_configurations():
    trials = study.design(study.SweepProfile(study.FACTORS, seeds=(0,)))
    assert len(trials) == 192
    configs = {tuple(sorted(t.config.items())) for t in trials}
    assert len(configs) == 192
    assert len({t.trial_id for t in trials}) == 192
    full = study.design(study.SWEEP_PROFILES["full"])
    assert len(full) == 192 * len(study.SWEEP_PROFILES["full"].seeds)


def test_profile_validation():
    with pytest.raises(ValueError, match="seeds"):
        study.SweepProfile({"a": (1,)}, seeds=())
    with pytest.raises(ValueError, match="both as factors and as fixed settings"):
        study.SweepProfile({"a": (1,)}, seeds=(0,), settings={"a": 2})


def flaky(config, seed):
    if config["x"] == 2:
        raise RuntimeError("trial x=2 always fails")
    return {"score": config["x"] * 10 + seed, "curve": [1.0, 2.0]}


TINY = study.SweepProfile({"x": (1, 2, 3)}, seeds=(0, 1), settings={"budget": 5})


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_failing_trial_is_recorded_and_the_others_finish(tmp_path, executor, request):
    if executor == "ray":
        ray = request.getfixturevalue("ray_cluster")
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    store = study.ResultsStore(tmp_path)
    results = study.run_trials(study.design(TINY), flaky, store, executor=executor, progress=False)
    assert len(results) == 6
    failed = results[results.status == "error"]
    assert sorted(failed.x) == [2, 2] and failed.error.str.contains("trial x=2 always fails").all()
    ok = results[results.status == "ok"].sort_values(["x", "seed"])
    assert ok.m_score.tolist() == [10, 11, 30, 31]
    assert ok.budget.tolist() == [5] * 4
    assert list(ok.m_curve.iloc[0]) == [1.0, 2.0]
    # resume re-runs only the failed ones
    again = study.run_trials(study.design(TINY), flaky, store, executor=executor, progress=False)
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
    profile = study.SweepProfile({"x": tuple(range(8))}, seeds=(0,), settings={"log": str(log)})
    out = tmp_path / "results"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import slowtrain
        from phantom_lib import study
        profile = study.SweepProfile({{"x": tuple(range(8))}}, seeds=(0,), settings={{"log": {str(log)!r}}})
        study.run_trials(study.design(profile), slowtrain.train, study.ResultsStore({str(out)!r}),
                         executor="local", progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    trials_dir = out / "trials"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(trials_dir.glob("*.parquet"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = study.ResultsStore(out)
    finished_before = store.finished()
    assert 3 <= len(finished_before) < 8, "the sweep should have been killed mid-run"
    calls_before = log.read_text().split()

    sys.path.insert(0, str(tmp_path))
    try:
        import slowtrain

        results = study.run_trials(study.design(profile), slowtrain.train, store, executor="local", progress=False)
    finally:
        sys.path.remove(str(tmp_path))
    assert len(results) == 8 and (results.status == "ok").all()
    calls_after = log.read_text().split()[len(calls_before):]
    rerun = {t.trial_id for t in study.design(profile) if f"{t.config['x']}-0" in calls_after}
    assert rerun == {t.trial_id for t in study.design(profile)} - finished_before
    assert len(calls_after) == len(rerun)


def test_sweep_refuses_to_overwrite_without_resume(tmp_path, monkeypatch):
    monkeypatch.setitem(study.SWEEP_PROFILES, "tiny", TINY)
    trainable = f"{__name__}:flaky"
    first = study.sweep("tiny", tmp_path, trainable=trainable, executor="local")
    assert len(first) == 6
    prov = (tmp_path / "provenance.json").read_text()
    assert '"n_failed": 2' in prov and '"profile": "tiny"' in prov
    with pytest.raises(FileExistsError, match="--resume"):
        study.sweep("tiny", tmp_path, trainable=trainable, executor="local")
