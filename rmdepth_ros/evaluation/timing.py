"""Throughput and latency summaries (milliseconds, frames per second)."""

from __future__ import annotations

import numpy as np


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
