"""The kernel manager the book's notebooks run under: an encrypted channel, a quiet shutdown.

Papermill starts each chapter's kernel through nbclient with jupyter_client's
``AsyncKernelManager``. Two of its defaults make every run print noise that is not about the
notebook, and both are changed here at their source rather than filtered from the output:

* the kernel talks over local TCP without encryption and ipykernel warns about it on every
  start ("Kernel is running over TCP without encryption"). When pyzmq has CurveZMQ and the
  kernelspec declares support (ipykernel 7 does), the manager provisions Curve keys
  (``transport_encryption = "auto"``), so the channel is encrypted and there is nothing to warn about;
* before shutting a kernel down, jupyter_client 8 sends it SIGINT (to its process group), which
  ipykernel can log as "KeyboardInterrupt caught in kernel" and child processes of the kernel
  print as tracebacks, after a notebook that succeeded. A papermill kernel is shut down after
  its last cell, so that interrupt has nothing to stop: it is skipped. A kernel that is still
  busy (Ctrl-C during a run) is asked to shut down and, after ``shutdown_wait_time``, killed.

The kernel runs in a session of its own (jupyter_client starts it so), so a Ctrl-C in the terminal
reaches ``phantom run`` and not the kernel; nbclient's clean-up after that interrupt can wait on the
busy kernel until its cell ends. :func:`kill_live_kernels` ends every kernel this process started,
at once, which is what the command-line interface does on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import weakref

import zmq
from jupyter_client.manager import AsyncKernelManager
from traitlets import default


_LIVE: weakref.WeakSet[BookKernelManager] = weakref.WeakSet()
"""Kernel managers of this process whose kernel has started."""


class BookKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` with Curve encryption where available and no interrupt at shutdown."""

    async def _async_post_start_kernel(self, **kw: object) -> None:
        await super()._async_post_start_kernel(**kw)
        _LIVE.add(self)

    @default("transport_encryption")
    def _transport_encryption_default(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()


def kill_live_kernels() -> int:
    """Kill (SIGKILL, the kernel's whole process group) every kernel this process started that is
    still running; return how many were signalled. Safe to call from an interrupt handler: it only
    sends signals and never waits on a kernel."""
    killed = 0
    for manager in list(_LIVE):
        provisioner = manager.provisioner
        process = getattr(provisioner, "process", None)
        if process is None or process.poll() is not None:
            continue
        pgid = getattr(provisioner, "pgid", None)
        try:
            if pgid:
                os.killpg(pgid, signal.SIGKILL)
            else:
                process.kill()
            killed += 1
        except ProcessLookupError:
            pass
    return killed
