"""Pool workers that end when the sweep that started them dies.

A sweep's worker processes wait for work on a pipe whose write end they inherited too, so when
the main process is killed (`kill -9`, the OOM killer, a closed terminal) they would never see
the pipe close and would wait forever, one orphan per CPU. `exit_with_parent()`, called in each
worker as it starts, makes the worker end with its parent: on Linux the kernel sends it SIGKILL
when the parent exits (`prctl(PR_SET_PDEATHSIG)`), elsewhere a daemon thread notices within a
second that the parent is gone (its parent pid changes). Nothing a worker holds needs cleaning
up: only the main process writes the results store.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

#: From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


def _parent_pid() -> int:
    """The pid of the process that started this one (multiprocessing records it for its
    children whatever the start method), else the current parent."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid else os.getppid()


def _kernel_watch() -> bool:
    """Ask Linux to SIGKILL this process when its parent exits; False where that is not
    available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return False


def _poll_parent(parent: int, interval_s: float) -> None:  # pragma: no cover - non-Linux
    while os.getppid() == parent:
        time.sleep(interval_s)
    os._exit(1)


def exit_with_parent(interval_s: float = 1.0) -> None:
    """Make this process end when the process that started it ends (see the module doc)."""
    parent = _parent_pid()
    if not _kernel_watch():  # pragma: no cover - non-Linux
        threading.Thread(target=_poll_parent, args=(parent, interval_s), daemon=True,
                         name="npusim-parent-watch").start()
    if os.getppid() != parent:  # the parent died before the watch was set up
        os._exit(1)
