"""A one-frame mailbox between the executor thread and the inference thread.

The subscription callback `put`s each incoming message; the inference thread `take`s the
newest one. A message that is replaced before it was taken is dropped and counted, so under
load the node skips old frames instead of queueing them (latency stays one frame at most).
"""

from __future__ import annotations

import threading
from typing import Any


class LatestFrameSlot:
    """Latest-wins slot holding at most one item; thread-safe."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Any = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item: Any) -> bool:
        """Store `item`, replacing an untaken one (counted in `dropped`); True if replaced."""
        with self._condition:
            replaced = self._full
            if replaced:
                self.dropped += 1
            self._item, self._full = item, True
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Any:
        """The newest item, waiting up to `timeout` seconds; None on timeout or when closed."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """Wake every waiting `take` (it returns None); later puts are still accepted."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
