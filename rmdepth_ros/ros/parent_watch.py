"""End the node when the process that started it is gone (a launch killed, a terminal closed).

`ros2 launch` forwards SIGINT to its nodes, but SIGTERM (or SIGKILL) to the launch process ends
it at once and leaves its nodes running, re-parented to PID 1 or to a sub-reaper. The watch
polls the parent process id; when it changes, the parent has ended, and the watch calls back
(startup's callback sends the process SIGTERM: the same clean shutdown as `kill`).

Linux's prctl(PR_SET_PDEATHSIG) is not used: it fires when the parent *thread* that started the
process ends, which would kill a node started from a short-lived thread of a living process.
"""

from __future__ import annotations

from collections.abc import Callable
import os
import threading

#: Seconds between two looks at the parent process id.
POLL_PERIOD = 0.5


def parent_gone(initial_ppid: int, current_ppid: int) -> bool:
    """Whether the parent `initial_ppid` ended, given the parent id now. A process started by
    PID 1 (or whose parent had already ended when it started) cannot tell: never."""
    return initial_ppid > 1 and current_ppid != initial_ppid


class ParentWatch:
    """A daemon thread that calls `on_gone(initial_ppid)` once when the parent ends.

    getppid: the parent-id function (os.getppid; replaceable in tests).
    """

    def __init__(self, on_gone: Callable[[int], None], period: float = POLL_PERIOD,
                 getppid: Callable[[], int] = os.getppid) -> None:
        self.initial_ppid = getppid()
        self._getppid = getppid
        self._on_gone = on_gone
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name='rmdepth_parent_watch',
                                        daemon=True)

    def start(self) -> ParentWatch:
        if self.initial_ppid > 1:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self._period):
            if parent_gone(self.initial_ppid, self._getppid()):
                self._on_gone(self.initial_ppid)
                return

