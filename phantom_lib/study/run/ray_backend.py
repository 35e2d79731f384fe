"""The Ray cluster a sweep runs on: a fresh one-machine cluster on loopback, or an existing head.

Safe by default (Ray 2.60 behaviour, checked in ``tests/study/test_ray_cluster.py``):

* **Loopback only.** A local cluster, and a head started as the README shows, listen on 127.0.0.1
  only. ``--node-ip-address=127.0.0.1`` alone is not enough: Ray replaces a loopback address with
  the machine's network address and its GCS and raylet then listen on every interface. Ray keeps
  every socket on loopback when its single-machine switch :data:`LOCAL_ONLY_ENV` is in the
  environment of every Ray process (for the driver, before ``ray`` is imported).
* **Token authentication on.** Nothing here disables it: a local cluster gets Ray's default (a
  token generated into ``~/.ray/auth_token``); a head started with ``RAY_AUTH_MODE=token`` refuses a
  client without its token. The submitting side finds the token the documented Ray way
  (``RAY_AUTH_MODE=token`` plus ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``).
* **A fresh local cluster.** Without an address the cluster is started with ``address="local"``,
  so a ``ray_current_cluster`` file left by a head that was killed is never followed (it made
  ``ray.init`` try to join the dead head and fail with "num_cpus and num_gpus must not be provided").
* The address of the cluster used is :func:`cluster_address`, for the run's provenance.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from phantom_lib._net import unreachable_reason

LOOPBACK = "127.0.0.1"
"""Where a local cluster listens."""

LOCAL_ONLY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""Ray's single-machine switch (named for its default on Windows and macOS): with it Ray uses the
loopback address as the node's address, so every process of the cluster binds to 127.0.0.1 and no
other machine can join. Read by Ray at import time, so it must be set before ``import ray``."""

RAY_PROBE_TIMEOUT = 5.0
"""Seconds allowed for the TCP probe of a Ray head before ``ray.init`` (which would retry for minutes)."""

_RAY_FIX = ("start the head there (`ray start --head --port=6379`, plus `--ray-client-server-port=10001` "
            "for ray:// addresses), correct --address / $RAY_ADDRESS, or leave both unset to run on this machine")

_TOKEN_FIX = ("set RAY_AUTH_MODE=token here and give the head's token (`ray get-auth-token` on the head) "
              "in ~/.ray/auth_token, $RAY_AUTH_TOKEN_PATH or $RAY_AUTH_TOKEN")


class RayConnectionError(RuntimeError):
    """The Ray cluster named by ``--address`` or ``$RAY_ADDRESS`` cannot be used (one line: what
    was tried and how to fix it)."""


def ray_address(address: str | None) -> str | None:
    """The cluster to join: ``address``, else ``$RAY_ADDRESS``; ``None`` for a local cluster."""
    return address or os.environ.get("RAY_ADDRESS") or None


def check_ray_address(address: str | None) -> None:
    """Fail within :data:`RAY_PROBE_TIMEOUT` seconds when the Ray head named by ``address`` (or
    ``$RAY_ADDRESS``) does not accept connections: raises :class:`RayConnectionError` naming the
    address, the reason (connection refused, unknown host, no answer) and the fix. ``None``,
    ``"local"`` and ``"auto"`` are left to ``ray.init``."""
    target = ray_address(address)
    if target in (None, "local", "auto"):
        return
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayConnectionError(f"Ray address {target!r} is not HOST:PORT or ray://HOST:PORT: write it like "
                                 "head.example.org:6379 (what `ray start --head` prints) or ray://head.example.org:10001")
    reason = unreachable_reason(host.strip("[]"), int(port), RAY_PROBE_TIMEOUT)
    if reason is not None:
        raise RayConnectionError(f"cannot reach the Ray head at {target} ({reason}): {_RAY_FIX}")


def _on_loopback(address: str | None) -> bool:
    """True for a local cluster (``None``) or a head on this machine's loopback address."""
    if address is None:
        return True
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _import_ray(local: bool) -> Any:
    """``ray``, imported with :data:`LOCAL_ONLY_ENV` in the environment when this process starts a
    local cluster or joins a head on loopback (without it Ray would dial the machine's network
    address, where a loopback head does not listen). Raises :class:`RayConnectionError` if ``ray``
    was imported earlier without it."""
    if local:
        os.environ.update(LOCAL_ONLY_ENV)
    import ray
    from ray._private import ray_constants

    if local and ray_constants.ENABLE_RAY_CLUSTER:
        raise RayConnectionError("ray was imported before the loopback setting of a cluster on this machine: "
                                 f"set {LOCAL_ONLY_ENV} in the environment before importing ray")
    return ray


def connect(address: str | None, num_cpus: int | None) -> bool:
    """Start a fresh local cluster on loopback (``address`` and ``$RAY_ADDRESS`` unset) or join the
    one named; True if this call started Ray, False if it was already running.

    Ray's INFO lines (the cluster it started, the authentication token it generated) are not
    printed: only Python warnings and errors, less the notice that a local cluster enabled token
    authentication (the secure default, nothing for the user to do). Ray's core (C++) still prints
    its own warnings to stderr while it retries a join (for about 20 s when a head refuses the token). A cluster that
    cannot be
    started or joined raises :class:`RayConnectionError` (one line) instead of Ray's retries and traceback.
    """
    address = ray_address(address)
    ray = _import_ray(local=_on_loopback(address))
    if ray.is_initialized():
        return False
    check_ray_address(address)
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
            ray.init(
                address="local",
                _node_ip_address=LOOPBACK,
                num_cpus=num_cpus or os.cpu_count(),
                include_dashboard=False,
                object_store_memory=200 * 1024**2,
                **quiet,
            )
    except (ConnectionError, TimeoutError, RuntimeError, SystemExit) as err:  # SystemExit: Ray's GCS time-out
        raise RayConnectionError(_failure(address, err)) from None
    _joined.append(address or str(ray.get_runtime_context().gcs_address))
    return True


def _failure(address: str | None, err: BaseException) -> str:
    """One line for a cluster Ray could not start or join: what was tried, Ray's first line, the fix."""
    from ray.exceptions import AuthenticationError

    tried = f"the Ray cluster at {address}" if address else "a local Ray cluster"
    causes = [c for c in (err, err.__cause__, err.__context__) if c is not None]
    if any(isinstance(c, AuthenticationError) or "authenticat" in str(c).lower() for c in causes):
        fix = f"the head requires its token: {_TOKEN_FIX}"
    elif isinstance(err, ConnectionAbortedError) and str(address).startswith("ray://"):
        fix = (
            "the head's Ray client server could not start a server for this client (Ray issue 63202, "
            "a gRPC fork race): restart the head with GRPC_ENABLE_FORK_SUPPORT=0 in its environment"
        )
    elif address and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        fix = f"if the head uses token authentication, {_TOKEN_FIX}; else {_RAY_FIX}"
    else:
        fix = _RAY_FIX
    first = str(err).strip().splitlines()[0] if str(err).strip() else "no message"
    return f"cannot start or join {tried} ({type(err).__name__}: {first}): {fix}"


def cluster_address() -> str | None:
    """The cluster this process last started or joined with :func:`connect`, or None: the local
    cluster's GCS address (``127.0.0.1:PORT``) or the address joined, as given. What a run's
    provenance records (it stays readable after :func:`disconnect`)."""
    return _joined[-1] if _joined else None


_joined: list[str] = []
"""Addresses :func:`connect` started or joined in this process, latest last."""


def disconnect() -> None:
    """Shut down the cluster this process started (its own processes; never ``ray stop``, which
    stops every Ray process on the machine by name)."""
    import ray

    ray.shutdown()


def task_resources(batched: bool) -> dict[str, Any]:
    """Ray resources of a task: a jax batch takes an accelerator when the cluster has one."""
    import ray

    if batched:
        cluster = ray.cluster_resources()  # type: ignore[no-untyped-call]  # ray is untyped
        for name in ("GPU", "TPU"):
            if cluster.get(name, 0) >= 1:
                return {"num_cpus": 1, "num_gpus": 1} if name == "GPU" else {"num_cpus": 1, "resources": {"TPU": 1}}
    return {"num_cpus": 1}
