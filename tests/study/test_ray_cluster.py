"""`phantom sweep --address` against a real Ray head started as the README says (loopback only,
token authentication on), the local cluster a sweep starts, and addresses where no head answers
(a closed port of 127.0.0.1, a ``.invalid`` host)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest
from _services import free_port, program, stop, wait_for_port

from phantom_lib import study
from phantom_lib.study.run import ray_backend

ROOT = Path(__file__).resolve().parents[2]
QUIET_RAY = {"RAY_USAGE_STATS_ENABLED": "0"}  # no usage-stats notice; authentication stays as Ray and the README set it
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}  # an IPv6 socket bound to 127.0.0.1 shows the mapped form


@dataclass(frozen=True)
class Head:
    process: subprocess.Popen
    gcs: str  # HOST:PORT of the head's GCS (what `ray start --address` takes)
    client: str  # ray://HOST:PORT of its Ray client server
    token_env: dict[str, str]  # how a submitting process finds the head's token (Ray's documented way)


def readme_head_command() -> tuple[dict[str, str], list[str]]:
    """The environment and arguments of the README's `ray start --head` line."""
    line = next(line for line in (ROOT / "README.md").read_text().splitlines() if " ray start --head" in line)
    words = shlex.split(line)
    env = dict(w.split("=", 1) for w in words if re.fullmatch(r"[A-Z_]+=\S*", w))
    return env, words[len(env):]


def listening(pids: list[int]) -> list[tuple[str, str, int]]:
    """(process name, address, port) of every listening TCP socket of these processes."""
    found = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            found += [(proc.name(), c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN]
        except psutil.NoSuchProcess:
            pass
    return found


def group(pgid: int) -> list[int]:
    """The processes of a process group."""
    pids = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                pids.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return pids


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    """The README's head command on free ports of this machine, in its own temp dir and process
    group, with a token made by `ray get-auth-token --generate` in its own home; stopped with
    SIGTERM to its process group (``--block`` then stops every process of the head), never ``ray stop``."""
    ray = program("ray")
    temp = tempfile.mkdtemp(prefix="rayhead-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    home = Path(temp) / "home"
    subprocess.run([str(ray), "get-auth-token", "--generate"], env=dict(os.environ, HOME=str(home)),
                   capture_output=True, check=True, timeout=60)
    token_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(home / ".ray" / "auth_token")}
    readme_env, args = readme_head_command()
    assert readme_env["RAY_AUTH_MODE"] == "token" and "--block" in args
    gcs, client = free_port(), free_port()
    args = [re.sub(r"^--port=\d+$", f"--port={gcs}", re.sub(r"^--ray-client-server-port=\d+$",
                   f"--ray-client-server-port={client}", a)) for a in args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(QUIET_RAY, **readme_env, HOME=str(home))
    log = open(Path(temp) / "head.log", "w")
    head = subprocess.Popen([str(ray), *args[1:], "--num-cpus=2", "--disable-usage-stats", f"--temp-dir={temp}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(client, head, seconds=180)
        yield Head(head, f"127.0.0.1:{gcs}", f"ray://127.0.0.1:{client}", token_env)
    finally:
        stop(head)  # Ray drains the head for up to 30 s before its processes exit
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def phantom_sweep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    return subprocess.run([str(program("phantom")), "sweep", *args], capture_output=True, text=True,
                          env=dict(base, **QUIET_RAY, **(env or {})), timeout=900)


def test_the_readme_head_listens_on_loopback_only_and_refuses_a_client_without_its_token(ray_head: Head,
                                                                                        tmp_path: Path):
    sockets = listening(group(ray_head.process.pid))
    print("listening sockets of the head:", sorted(sockets))
    assert {name for name, _, _ in sockets} >= {"gcs_server", "raylet"}
    assert [s for s in sockets if s[1] not in LOOPBACK] == []
    started = time.monotonic()
    refused = phantom_sweep("--design", "smoke", "--address", ray_head.gcs, "--out", str(tmp_path / "sweep"))
    print(f"refused after {time.monotonic() - started:.1f} s")
    assert refused.returncode == 1
    # Ray's core prints a warning per retry (C++ logging, before Python's; not ours to silence); ours is the one line
    lines = [line for line in refused.stderr.replace("\r", "\n").splitlines()
             if line.strip() and not line.startswith("trials:") and " gcs_client.cc:" not in line]
    assert "Traceback" not in refused.stderr
    assert len(lines) == 1 and lines[0].startswith(f"phantom sweep: error: cannot start or join the Ray cluster at "
                                                   f"{ray_head.gcs} ("), refused.stderr
    assert "the head requires its token: set RAY_AUTH_MODE=token" in lines[0]


def run_events(out: Path) -> list[str]:
    return [json.loads(line)["event"] for line in (out / "runs.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_smoke_sweep_on_a_real_head_then_resumed_through_the_ray_client(ray_head: Head, tmp_path: Path):
    out = tmp_path / "sweep"
    first = phantom_sweep("--design", "smoke", "--address", ray_head.gcs, "--out", str(out), env=ray_head.token_env)
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
    again = phantom_sweep("--design", "smoke", "--address", ray_head.client, "--out", str(out), "--resume",
                          env=ray_head.token_env)
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
    with pytest.raises(ray_backend.RayConnectionError, match=r"cannot reach the Ray head at 127\.0\.0\.1:\d+ "
                                                              r"\(connection refused\)"):
        ray_backend.check_ray_address(None)
    with pytest.raises(ray_backend.RayConnectionError, match="is not HOST:PORT or ray://HOST:PORT"):
        ray_backend.check_ray_address("headnode")
    monkeypatch.delenv("RAY_ADDRESS")
    for local in (None, "local", "auto"):
        assert ray_backend.check_ray_address(local) is None  # left to ray.init


STALE_AND_LOOPBACK = """
import json, os, sys, psutil
from phantom_lib.study.run import ray_backend

ray_backend.connect(None, num_cpus=1)
import ray

@ray.remote
def ping():
    return os.getpid()

ray.get(ping.remote())  # a worker is up, with its own sockets
procs = [psutil.Process()] + psutil.Process().children(recursive=True)
sockets = [(p.name(), c.laddr.ip, c.laddr.port) for p in procs for c in p.net_connections(kind="inet")
           if c.status == psutil.CONN_LISTEN]
print(json.dumps({"address": ray_backend.cluster_address(), "sockets": sockets,
                  "auth": os.environ.get("RAY_AUTH_MODE")}))
ray_backend.disconnect()
"""


def test_a_local_cluster_is_fresh_on_loopback_with_authentication_despite_a_stale_cluster_file(tmp_path: Path):
    """A ``ray_current_cluster`` left by a killed head (here: pointing at a closed port) made a plain
    ``ray.init(num_cpus=...)`` fail; the sweep's local cluster ignores it and listens on loopback only."""
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    try:
        (ray_tmp / "ray").mkdir()  # Ray's default temp dir is $RAY_TMPDIR/ray
        (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{free_port()}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(QUIET_RAY, RAY_TMPDIR=str(ray_tmp), HOME=str(tmp_path))  # a home without a Ray token
        control = subprocess.run([sys.executable, "-c", "import ray; ray.init(num_cpus=1)"], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert control.returncode != 0 and "num_cpus and num_gpus must not be provided" in control.stderr
        run = subprocess.run([sys.executable, "-c", STALE_AND_LOOPBACK], env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        seen = json.loads(run.stdout.strip().splitlines()[-1])
        print("listening sockets of the local cluster:", sorted(map(tuple, seen["sockets"])))
        assert {name for name, _, _ in seen["sockets"]} >= {"gcs_server", "raylet"}
        assert [s for s in seen["sockets"] if s[1] not in LOOPBACK] == []
        assert seen["address"].startswith("127.0.0.1:")
        assert seen["auth"] == "token"  # Ray's default for a local cluster, not turned off
        assert (tmp_path / ".ray" / "auth_token").is_file()
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
