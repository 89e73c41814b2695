"""The reset rule under load: frames the node skipped never reset, gaps in the stream do.

Units on the Estimator (its `skipped` stamps), the latest-frame slot that collects them, and
the latency statistic that leaves implausible stamps out. The same rules through a running
node are in test_node_runtime.py.
"""

from pathlib import Path

import numpy as np
import pytest

from rmdepth_ros.inference import Estimator
from rmdepth_ros.ros.diagnostics import MAX_LATENCY, NodeStats
from rmdepth_ros.ros.frame_slot import MAX_SKIPPED, LatestFrameSlot

WIDTH, HEIGHT = 64, 32
K = np.array([[0.58 * WIDTH, 0, WIDTH / 2 - 0.5], [0, 1.92 * HEIGHT, HEIGHT / 2 - 0.5],
              [0, 0, 1.0]])


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.fixture()
def estimator(tiny_weights: Path) -> Estimator:
    est = Estimator(tiny_weights, device='cpu', max_frame_gap=0.5)
    est.process(_image(0), K, 10.0)
    assert est.process(_image(1), K, 10.1).motion is not None
    return est


def test_skipped_frames_bridge_a_long_processing_interval(estimator: Estimator) -> None:
    # 1.9 s since the last processed frame, but a frame arrived every 0.1 s: no reset.
    skipped = [10.1 + 0.1 * i for i in range(1, 19)]
    out = estimator.process(_image(2), K, 12.0, skipped=skipped)
    assert out.reset_reason is None and out.motion is not None and out.flow is not None


def test_without_skipped_frames_the_same_interval_is_a_gap(estimator: Estimator) -> None:
    out = estimator.process(_image(2), K, 12.0)
    assert out.reset_reason == 'time gap 1.900 s > max_frame_gap 0.500 s'
    assert out.motion is None


@pytest.mark.parametrize('skipped, now, expected', [
    ([10.2, 10.3, 11.5], 11.6, 'time gap 1.200 s'),           # the stream stalled
    ([10.2, 10.3], 11.0, 'time gap 0.700 s'),                  # ... just before this frame
    ([10.2, 5.0, 5.1], 5.2, 'time went backwards (5.000 s after 10.200 s)'),  # a bag looped
])
def test_a_gap_or_jump_in_the_stream_resets(estimator: Estimator, skipped: list[float],
                                            now: float, expected: str) -> None:
    out = estimator.process(_image(2), K, now, skipped=skipped)
    assert out.reset_reason is not None and out.reset_reason.startswith(expected)
    assert out.motion is None
    after = estimator.process(_image(3), K, now + 0.1)
    assert after.reset_reason is None and after.motion is not None


def test_non_finite_skipped_stamps_are_refused(estimator: Estimator) -> None:
    with pytest.raises(ValueError, match='skipped stamps must be finite'):
        estimator.process(_image(2), K, 10.2, skipped=[float('nan')])
    assert estimator.process(_image(3), K, 10.2).reset_reason is None  # state kept


def test_slot_hands_over_the_stamps_of_the_frames_it_dropped() -> None:
    slot = LatestFrameSlot()
    for index in range(5):
        slot.put(f'frame{index}', 1.0 + index)
    assert slot.take_with_skipped(timeout=0.0) == ('frame4', [1.0, 2.0, 3.0, 4.0])
    assert slot.dropped == 4
    slot.put('frame5', 6.0)
    assert slot.take_with_skipped(timeout=0.0) == ('frame5', [])  # only since the last take
    assert slot.take_with_skipped(timeout=0.0) is None
    for index in range(MAX_SKIPPED + 10):
        slot.put(index, float(index))
    item, skipped = slot.take_with_skipped(timeout=0.0)
    assert item == MAX_SKIPPED + 9 and len(skipped) == MAX_SKIPPED
    assert skipped[-1] == MAX_SKIPPED + 8  # the newest are kept


def test_implausible_latencies_are_left_out_and_counted() -> None:
    stats = NodeStats()
    for latency in (0.040, -3.0, 0.060, 208 * 86400.0, MAX_LATENCY + 1.0):
        stats.output_frame(latency, {})
    values = stats.snapshot()
    assert values['frames_processed'] == 5
    assert values['latency_left_out'] == 3
    assert values['latency_mean_ms'] == pytest.approx(50.0)
    assert values['latency_max_ms'] == pytest.approx(60.0)
