"""`phantom sweep --address` against a real Ray head started as a separate process, and against
addresses where no head answers (a closed port of 127.0.0.1, a ``.invalid`` host)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from _services import free_port, program, stop, wait_for_port

from phantom_lib import study
from phantom_lib.study.run import runner

# Ray's own defaults would print a usage-stats notice and set up token authentication on a test head.
QUIET_RAY = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@dataclass(frozen=True)
class Head:
    gcs: str  # HOST:PORT of the head's GCS (what `ray start --address` takes)
    client: str  # ray://HOST:PORT of its Ray client server


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    """``ray start --head --block`` on free ports of this machine, in its own temp dir and process
    group; stopped with SIGTERM (``--block`` then stops every process of the head).

    GRPC_ENABLE_FORK_SUPPORT=0: without it, Ray 2.60's client server dies while forking the
    per-client server (Ray issue 63202) and every ``ray://`` connection fails; the README says so.
    """
    ray = program("ray")
    gcs, client = free_port(), free_port()
    temp = tempfile.mkdtemp(prefix="rayhead-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = dict(os.environ, **QUIET_RAY, GRPC_ENABLE_FORK_SUPPORT="0")
    log = open(Path(temp) / "head.log", "w")
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", f"--port={gcs}", f"--ray-client-server-port={client}",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(client, head, seconds=180)
        yield Head(f"127.0.0.1:{gcs}", f"ray://127.0.0.1:{client}")
    finally:
        stop(head)  # Ray drains the head for up to 30 s before its processes exit
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def phantom_sweep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program("phantom")), "sweep", *args], capture_output=True, text=True,
                          env=env or dict(os.environ, **QUIET_RAY), timeout=900)


def run_events(out: Path) -> list[str]:
    return [json.loads(line)["event"] for line in (out / "runs.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_smoke_sweep_on_a_real_head_then_resumed_through_the_ray_client(ray_head: Head, tmp_path: Path):
    out = tmp_path / "sweep"
    first = phantom_sweep("--design", "smoke", "--address", ray_head.gcs, "--out", str(out))
    assert first.returncode == 0, first.stderr
    trials = study.design(study.DESIGNS["smoke"])
    results = pd.read_parquet(out / "results.parquet")
    assert sorted(results.trial_id) == sorted(t.trial_id for t in trials)
    assert (results.status == "ok").all(), results.loc[results.status != "ok", "error"].tolist()
    trained = results[results.variant != "reference"]
    assert (trained.m_train_steps >= study.DESIGNS["smoke"].settings["timesteps"]).all()
    assert json.loads((out / "provenance.json").read_text())["complete"] is True
    assert run_events(out) == ["start", "end"]

    # Three trials lost: --resume through the ray:// client re-runs exactly those three.
    lost = sorted((out / "trials").glob("*.parquet"))[:3]
    for path in lost:
        path.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "trials").glob("*.parquet")}
    again = phantom_sweep("--design", "smoke", "--address", ray_head.client, "--out", str(out), "--resume")
    assert again.returncode == 0, again.stderr
    after = {p.name: p.stat().st_mtime_ns for p in (out / "trials").glob("*.parquet")}
    assert sorted(set(after) - set(before)) == sorted(p.name for p in lost)
    assert all(after[name] == mtime for name, mtime in before.items())  # the others were not re-run
    assert (pd.read_parquet(out / "results.parquet").status == "ok").sum() == len(trials)
    assert run_events(out) == ["start", "end", "start", "end"]
    for output in (first, again):  # quiet: no INFO lines from Ray, no token-authentication notice
        assert "INFO" not in output.stderr and "token" not in output.stderr.lower()


@pytest.mark.parametrize("address", [f"127.0.0.1:{free_port()}", f"ray://127.0.0.1:{free_port()}",
                                     "no-ray-head.invalid:6379"])
def test_an_unreachable_head_fails_at_once_in_one_line_and_logs_no_run(address: str, tmp_path: Path):
    out = tmp_path / "sweep"
    started = time.monotonic()
    result = phantom_sweep("--design", "smoke", "--address", address, "--out", str(out))
    print(f"{address}: failed after {time.monotonic() - started:.1f} s")  # the bound is 30 s
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"phantom sweep: error: cannot reach the Ray head at {address} (")
    assert ("connection refused" if "127.0.0.1" in address else "unknown host") in lines[0]
    assert "ray start --head" in lines[0] and "leave both unset" in lines[0]
    assert not (out / "runs.jsonl").exists()  # no dangling "start" entry


def test_the_address_check_reads_ray_address_and_rejects_malformed_addresses(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    with pytest.raises(runner.RayConnectionError, match=r"cannot reach the Ray head at 127\.0\.0\.1:\d+ "
                                                              r"\(connection refused\)"):
        runner.check_ray_address(None)
    with pytest.raises(runner.RayConnectionError, match="is not HOST:PORT or ray://HOST:PORT"):
        runner.check_ray_address("headnode")
    monkeypatch.delenv("RAY_ADDRESS")
    for local in (None, "local", "auto"):
        assert runner.check_ray_address(local) is None  # left to ray.init
