"""Throughput and latency: summaries (milliseconds, frames per second) and device-aware timers."""

from __future__ import annotations

from collections.abc import Callable
import time

import numpy as np
import torch


def latency_summary(latencies_ms: list[float]) -> dict[str, float] | None:
    """mean, median, p90, p99 and max of per-frame latencies (ms); None when empty."""
    values = np.asarray([v for v in latencies_ms if v is not None and np.isfinite(v)], float)
    if values.size == 0:
        return None
    return {'mean_ms': float(values.mean()), 'median_ms': float(np.median(values)),
            'p90_ms': float(np.percentile(values, 90)),
            'p99_ms': float(np.percentile(values, 99)), 'max_ms': float(values.max()),
            'count': float(values.size)}


def throughput(frames: int, seconds: float) -> float | None:
    """Frames per second of wall time; None when no time passed."""
    return frames / seconds if seconds > 0 else None


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU): host clocks then tell the truth."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_calls(call: Callable[[], object], device: torch.device, warmup: int = 10,
               min_calls: int = 20, seconds: float = 0.5, max_calls: int = 2000
               ) -> dict[str, float]:
    """Latency and throughput of `call` on `device`, after `warmup` calls.

    Latency: each call timed alone, the device synchronised after it; at least min_calls calls
    and then more until `seconds` have passed (at most max_calls). Throughput: as many calls
    again back to back, synchronised once at the end. Returns median_ms, p95_ms, fps (of the
    back-to-back calls) and iterations (the number of timed calls of each kind).
    """
    for _ in range(warmup):
        call()
    synchronize(device)
    latencies: list[float] = []
    start = time.perf_counter()
    while len(latencies) < min_calls or (time.perf_counter() - start < seconds
                                         and len(latencies) < max_calls):
        tick = time.perf_counter()
        call()
        synchronize(device)
        latencies.append((time.perf_counter() - tick) * 1e3)
    tick = time.perf_counter()
    for _ in latencies:
        call()
    synchronize(device)
    return {'median_ms': float(np.median(latencies)),
            'p95_ms': float(np.percentile(latencies, 95)),
            'fps': len(latencies) / (time.perf_counter() - tick), 'iterations': len(latencies)}


class SyncTimedRunner:
    """An Estimator runner (rmdepth_ros.backends.runners) whose two network calls are timed,
    the device synchronised before and after each: `ms` sums them. The syncs cost a little,
    so time the whole frame without this wrapper and use it for the networks' share only."""

    def __init__(self, inner, device: torch.device) -> None:
        self.inner, self.device, self.ms = inner, device, 0.0
        self.description = inner.description

    def depth(self, image: torch.Tensor) -> torch.Tensor:
        return self._timed(self.inner.depth, image)

    def motion(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._timed(self.inner.motion, *inputs)

    def _timed(self, call, *inputs):
        synchronize(self.device)
        tick = time.perf_counter()
        result = call(*inputs)
        synchronize(self.device)
        self.ms += (time.perf_counter() - tick) * 1e3
        return result
