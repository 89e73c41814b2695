"""Keyed log throttling: one line per kind of problem, not one per frame.

rclpy's own `throttle_duration_sec` throttles per call site, so two different problems logged
from one place would hide each other. Here each message has a key (e.g. 'encoding:yuv422'):
the first occurrence is logged at once, repeats within `period` seconds are counted and
reported with the next line that gets through; `once=True` logs a key a single time ever.
"""

from __future__ import annotations

from collections.abc import Callable
import threading
import time
from typing import Any


class LogLimiter:
    """Throttled logging through an rclpy logger (anything with debug/info/warning/error)."""

    def __init__(self, logger: Any, period: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._period = period
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, level: str, key: str, text: str, once: bool = False) -> bool:
        """Log `text` at `level` ('info', 'warning', 'error') unless `key` is throttled.

        Returns True if the line was written.
        """
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and (once or now - last < self._period):
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            text = f'{text} ({suppressed} similar message(s) suppressed)'
        # rclpy fixes the severity per call site, so each level needs its own call
        if level == 'error':
            self._logger.error(text)
        elif level == 'warning':
            self._logger.warning(text)
        else:
            self._logger.info(text)
        return True

    def info(self, key: str, text: str, once: bool = False) -> bool:
        return self.log('info', key, text, once)

    def warning(self, key: str, text: str, once: bool = False) -> bool:
        return self.log('warning', key, text, once)

    def error(self, key: str, text: str, once: bool = False) -> bool:
        return self.log('error', key, text, once)
