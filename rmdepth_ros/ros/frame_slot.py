"""A one-frame mailbox between the executor thread and the inference thread.

The subscription callback `put`s each incoming message; the inference thread `take`s the
newest one. A message that is replaced before it was taken is dropped and counted, so under
load the node skips old frames instead of queueing them (latency stays one frame at most).
The stamps of the replaced messages are kept (`take_with_skipped`), so the estimator can tell
the node's own drops from gaps in the stream.
"""

from __future__ import annotations

import threading
from typing import Any

#: At most this many skipped stamps are kept between two takes (the oldest go first).
MAX_SKIPPED = 1000


class LatestFrameSlot:
    """Latest-wins slot holding at most one item; thread-safe."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Any = None
        self._stamp: float | None = None
        self._skipped: list[float] = []
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item: Any, stamp: float | None = None) -> bool:
        """Store `item` (stamped `stamp` seconds), replacing an untaken one (counted in
        `dropped`, its stamp kept for `take_with_skipped`); True if one was replaced."""
        with self._condition:
            replaced = self._full
            if replaced:
                self.dropped += 1
                if self._stamp is not None:
                    self._skipped.append(self._stamp)
                    del self._skipped[:-MAX_SKIPPED]
            self._item, self._stamp, self._full = item, stamp, True
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Any:
        """The newest item, waiting up to `timeout` seconds; None on timeout or when closed."""
        taken = self.take_with_skipped(timeout)
        return None if taken is None else taken[0]

    def take_with_skipped(self, timeout: float | None = None) -> tuple[Any, list[float]] | None:
        """(newest item, stamps of the items it replaced since the last take, oldest first), or
        None on timeout or when closed."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, skipped = self._item, self._skipped
            self._item, self._stamp, self._skipped, self._full = None, None, [], False
            return item, skipped

    def close(self) -> None:
        """Wake every waiting `take` (it returns None); later puts are still accepted."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
