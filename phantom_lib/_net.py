"""Is a TCP service there? One bounded probe, used before a library would wait minutes for it.

The data loader asks it about the Hugging Face hub and the study runner about a Ray head, so
that an unreachable host fails in seconds with the reason instead of a long series of retries.
"""

from __future__ import annotations

import socket
import threading


def unreachable_reason(host: str, port: int, timeout: float) -> str | None:
    """Why ``host:port`` cannot be reached, or ``None`` when a TCP connection opens.

    The whole probe (name lookup included) takes at most ``timeout`` seconds. Reasons read
    ``connection refused``, ``unknown host`` or ``no answer within T s``.
    """
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except socket.gaierror:
            outcome.append("unknown host")
        except ConnectionRefusedError:
            outcome.append("connection refused")
        except TimeoutError:
            outcome.append(f"no answer within {timeout:g} s")
        except OSError as err:
            outcome.append(err.strerror or type(err).__name__)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"
