"""Checking a Dask scheduler address before Dask is imported (`npusim sweep --dask ADDRESS`).

Importing dask.distributed takes seconds and its client retries a dead address until its
timeout; a plain TCP connection answers "nobody listens there" at once and "no route" within
`timeout_s`, so a wrong address is a one-line error in a few seconds, not half a minute.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from simulator.core.errors import NpusimError

_FIX = "give a scheduler address such as tcp://host:8786, or 'local'"


def check_scheduler(address: str, timeout_s: float = 3.0) -> None:
    """Refuse a malformed `tcp://host:port` address, or one where nothing accepts a TCP
    connection within `timeout_s`. Other schemes (tls://, ucx://, inproc://) are left to Dask."""
    text = address if "://" in address else f"tcp://{address}"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if text.split("://", 1)[0].lower() != "tcp":
        return
    if not host or port is None:
        raise NpusimError(f"cannot read the scheduler address {address[:80]!r}", field="--dask",
                          fix=_FIX)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or (
            f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else str(exc))
        raise NpusimError(f"cannot reach the Dask scheduler at {host}:{port} ({reason})",
                          field="--dask", fix=_FIX) from None
