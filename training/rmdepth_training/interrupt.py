"""Ctrl-C during training: the step in flight finishes, a checkpoint is written, the run stops.

`StopRequest` turns the first SIGINT into a flag that the training loop reads after each step
(a step stopped half way would leave Adam's update half applied); a second SIGINT interrupts at
once, as Python normally does. DataLoader workers ignore SIGINT (`ignore_in_worker`): the
terminal sends it to the whole process group, and a worker that died of it would take the
training process's next batch with it.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopRequest:
    """Context manager: `requested` becomes True at the first SIGINT (main thread only;
    elsewhere it never does and signals behave as before). notice: the line printed then."""

    def __init__(self, notice: str = 'rmdepth-train: Ctrl-C: finishing this step and writing '
                 'a checkpoint (Ctrl-C again stops at once, without one)') -> None:
        self.requested = False
        self.notice = notice
        self._previous = None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # the second Ctrl-C: at once
            raise KeyboardInterrupt
        self.requested = True
        print(f'\n{self.notice}', flush=True)


def ignore_in_worker(worker_id: int) -> None:
    """DataLoader worker_init_fn: SIGINT is the training process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
