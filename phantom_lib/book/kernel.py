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
"""

from __future__ import annotations

import zmq
from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class BookKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` with Curve encryption where available and no interrupt at shutdown."""

    @default("transport_encryption")
    def _transport_encryption_default(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()
