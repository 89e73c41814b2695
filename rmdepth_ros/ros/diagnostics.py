"""Counters and rates of the node, and the diagnostic_msgs/DiagnosticArray built from them.

`NodeStats` is written by the inference thread and read by the diagnostics timer; every
method takes its lock. Rates are over a sliding window of wall-clock time (seconds); latency is
the node clock at publish time minus the input header stamp (the node clock follows
use_sim_time, as the stamps do when replaying a bag with --clock). A latency outside
[0, MAX_LATENCY] says the stamp is not on the node's clock (stamp 0, a bag replayed without
--clock, another machine's clock): such frames are left out of the latency statistic and counted
in `latency_left_out`.
"""

from __future__ import annotations

from collections import deque
import threading
import time
from typing import Any

RATE_WINDOW = 5.0  # s
MAX_LATENCY = 60.0  # s: a plausible latency is in [0, MAX_LATENCY]


class RateMeter:
    """Events per second over the last `window` seconds."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()


class NodeStats:
    """Frame counters, rates, latency and per-stage times (milliseconds) of rmdepth_node."""

    def __init__(self, samples: int = 100) -> None:
        self._lock = threading.Lock()
        self.received = 0         # image messages received
        self.processed = 0        # frames that produced outputs
        self.dropped_busy = 0     # replaced in the slot before inference could take them
        self.dropped_invalid = 0  # bad image, no intrinsics, estimator refused it
        self.resets = 0           # temporal-state resets (first frame excluded)
        self.latency_left_out = 0  # processed frames with an implausible latency
        self._input = RateMeter()
        self._output = RateMeter()
        self._latency: deque[float] = deque(maxlen=samples)
        self._stages: dict[str, deque[float]] = {}
        self._samples = samples

    def input_frame(self) -> None:
        with self._lock:
            self.received += 1
            self._input.tick(time.monotonic())

    def invalid_frame(self) -> None:
        with self._lock:
            self.dropped_invalid += 1

    def busy_drop(self, count: int) -> None:
        with self._lock:
            self.dropped_busy = count

    def reset(self) -> None:
        with self._lock:
            self.resets += 1

    def output_frame(self, latency_s: float, stages_ms: dict[str, float]) -> None:
        """One processed frame: latency in seconds, stage durations in milliseconds."""
        with self._lock:
            self.processed += 1
            self._output.tick(time.monotonic())
            if 0.0 <= latency_s <= MAX_LATENCY:
                self._latency.append(latency_s)
            else:
                self.latency_left_out += 1
            for name, value in stages_ms.items():
                self._stages.setdefault(name, deque(maxlen=self._samples)).append(value)

    def stage_means(self) -> dict[str, float]:
        """Mean milliseconds per processed frame of each stage, over the recent frames."""
        with self._lock:
            return {name: sum(v) / len(v) for name, v in self._stages.items() if v}

    def snapshot(self) -> dict[str, Any]:
        """Everything the diagnostics report, as numbers."""
        now = time.monotonic()
        with self._lock:
            latency = sorted(self._latency)
            values = {
                'input_rate_hz': self._input.rate(now),
                'output_rate_hz': self._output.rate(now),
                'frames_received': self.received,
                'frames_processed': self.processed,
                'dropped_busy': self.dropped_busy,
                'dropped_invalid': self.dropped_invalid,
                'resets': self.resets,
                'latency_mean_ms': 1e3 * sum(latency) / len(latency) if latency else 0.0,
                'latency_max_ms': 1e3 * latency[-1] if latency else 0.0,
                'latency_left_out': self.latency_left_out,
            }
        values.update({f'{name}_ms': value for name, value in self.stage_means().items()})
        return values


#: diagnostic_msgs/DiagnosticStatus levels.
DIAG_OK, DIAG_WARN, DIAG_ERROR = 0, 1, 2


def node_status(values: dict[str, Any], processed: int, invalid: int,
                scale_established: bool) -> tuple[int, str]:
    """(level, message) of the node from its `NodeStats.snapshot()` and, since the last
    report, the counts of frames processed and dropped as invalid."""
    if invalid and not processed:
        return DIAG_ERROR, 'every recent frame was dropped (see the log)'
    if values['input_rate_hz'] == 0.0 and not processed:
        return DIAG_WARN, 'no images received'
    if not scale_established:
        return DIAG_WARN, 'running; scale not established'
    return DIAG_OK, 'running'


def model_values(estimator: Any) -> dict[str, str]:
    """What runs the networks of an `inference.Estimator`: backend (with version and
    settings; for backend 'auto' also what it chose and why), device, precision, model id,
    network input size and, for the ONNX backends, the folder of the cached ONNX files."""
    values = {
        'backend': estimator.backend_description,
        'device': str(estimator.device),
        'precision': estimator.precision,
        'model_id': estimator.model_id,
        'input_size': '{}x{}'.format(*estimator.input_size),
    }
    if estimator.backend_choice:
        values['backend_choice'] = estimator.backend_choice
    if estimator.onnx_files:
        values['onnx_cache'] = str(estimator.onnx_files['depth'].parent)
    values['motion_source'] = estimator.motion_source
    for how, frames in estimator.motion_counts.items():  # hybrid: geometry and each fallback
        values[f"motion_{how.replace(' ', '_')}"] = str(frames)
    values['depth_source'] = estimator.depth_source
    for how, frames in estimator.geometry_counts.items():  # fused: measured, or why not
        values[f"geometry_{how.replace(' ', '_')}"] = str(frames)
    observed = getattr(estimator, 'last_observed', None)
    if observed is not None:
        values['geometry_observed_share'] = f'{observed:.3f}'
    return values


def make_diagnostic_array(stamp: Any, name: str, hardware_id: str, level: int, message: str,
                          values: dict[str, Any]) -> Any:
    """A DiagnosticArray with one status; numbers are formatted, other values str()'d.

    level: diagnostic_msgs/DiagnosticStatus OK (0), WARN (1), ERROR (2) or STALE (3).
    """
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    status = DiagnosticStatus(level=bytes([level]), name=name, message=message,
                              hardware_id=hardware_id)
    status.values = [KeyValue(key=key, value=_format(value)) for key, value in values.items()]
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.3f}'
    return str(value)
