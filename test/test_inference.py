"""The Estimator: shapes, conventions, every reset rule, bad input, determinism, memory."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rmdepth_ros.inference import Estimator, select_device

K_640 = np.array([[371.2, 0.0, 319.5], [0.0, 368.6, 95.5], [0.0, 0.0, 1.0]])


def _image(height: int, width: int, seed: int = 0, gray: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width) if gray else (height, width, 3)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def _k(width: int, height: int) -> np.ndarray:
    return np.array([[0.58 * width, 0, width / 2 - 0.5], [0, 1.92 * height, height / 2 - 0.5],
                     [0, 0, 1.0]])


@pytest.fixture()
def estimator(tiny_weights: Path) -> Estimator:
    return Estimator(tiny_weights, device='cpu', max_frame_gap=0.5, resize='stretch')


@pytest.mark.parametrize('size', [(100, 37), (64, 32), (250, 90)])
@pytest.mark.parametrize('gray', [False, True])
def test_outputs_have_the_input_resolution(estimator: Estimator, size, gray: bool) -> None:
    width, height = size
    k = _k(width, height)
    first = estimator.process(_image(height, width, 0, gray), k, 0.0)
    second = estimator.process(_image(height, width, 1, gray), k, 0.1)
    assert first.depth.shape == (height, width) and first.depth.dtype == np.float32
    assert first.reset_reason == 'first frame'
    assert first.motion is None and first.flow is None and first.motion_mask is None
    assert np.allclose(first.intrinsics, k)
    finite = first.depth[np.isfinite(first.depth)]
    assert finite.size > 0.9 * first.depth.size
    assert finite.min() >= 0.1 - 1e-4 and finite.max() <= 100.0 + 1e-3
    assert second.reset_reason is None
    assert second.motion.shape == (4, 4)
    rotation = second.motion[:3, :3]
    assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-5)
    assert second.flow.shape == (height, width, 2) and second.flow.dtype == np.float32
    assert second.motion_mask.shape == (height, width) and second.motion_mask.dtype == bool
    assert second.object_motion.shape == (height, width, 3)


def test_network_output_mode_returns_scaled_intrinsics(tiny_weights: Path) -> None:
    est = Estimator(tiny_weights, device='cpu', output='network', resize='stretch')
    out = est.process(_image(96, 320), _k(320, 96), 0.0)
    assert out.depth.shape == (32, 64)
    assert out.intrinsics[0, 0] == pytest.approx(0.58 * 320 * 64 / 320)
    assert out.intrinsics[0, 2] == pytest.approx((160 - 0.5 + 0.5) * 64 / 320 - 0.5)


@pytest.mark.parametrize('change, expected', [
    (dict(timestamp=5.0), 'time gap'),
    (dict(timestamp=0.05), 'time went backwards'),
    (dict(timestamp=0.1), 'time did not advance'),
    (dict(size=(80, 40)), 'image size changed'),
    (dict(k_scale=1.1), 'intrinsics changed'),
])
def test_every_automatic_reset_rule(estimator: Estimator, change, expected) -> None:
    width, height = 64, 32
    estimator.process(_image(height, width), _k(width, height), 0.0)
    second = estimator.process(_image(height, width, 1), _k(width, height), 0.1)
    assert second.motion is not None
    w, h = change.get('size', (width, height))
    k = _k(w, h) * np.array([[change.get('k_scale', 1.0)], [1], [1]])
    k[2, 2] = 1.0
    third = estimator.process(_image(h, w, 2), k, change.get('timestamp', 0.2))
    assert third.reset_reason is not None and expected in third.reset_reason
    assert third.motion is None and third.flow is None
    fourth = estimator.process(_image(h, w, 3), k, change.get('timestamp', 0.2) + 0.1)
    assert fourth.reset_reason is None and fourth.motion is not None


def test_reset_on_request(estimator: Estimator) -> None:
    estimator.process(_image(32, 64), _k(64, 32), 0.0)
    estimator.reset()
    out = estimator.process(_image(32, 64, 1), _k(64, 32), 0.1)
    assert out.reset_reason == 'requested' and out.motion is None


def test_depth_only_frames_still_feed_the_next_motion(estimator: Estimator) -> None:
    first = estimator.process(_image(32, 64), _k(64, 32), 0.0, compute_motion=False)
    second = estimator.process(_image(32, 64, 1), _k(64, 32), 0.1, compute_motion=False)
    third = estimator.process(_image(32, 64, 2), _k(64, 32), 0.2)
    assert first.motion is None and second.motion is None and third.motion is not None


class _StillCamera(nn.Module):
    """Test double of the motion network: no camera motion, no object motion."""

    def forward(self, target, source, depth, k, object_motion_scale=1.0):
        batch, _, height, width = target.shape
        return {'T': torch.eye(4).expand(batch, 4, 4),
                'object_motion': torch.zeros(batch, 3, height, width)}


def test_no_motion_gives_zero_flow_and_an_empty_mask(tiny_weights: Path) -> None:
    # the networks' outputs: two unrelated random images have no geometry to measure
    est = Estimator(tiny_weights, device='cpu', depth_source='network')
    est.model.motion_net = _StillCamera()
    est.process(_image(48, 96), _k(96, 48), 0.0)
    out = est.process(_image(48, 96, 1), _k(96, 48), 0.1)
    assert np.allclose(out.motion, np.eye(4))
    assert np.all(np.isfinite(out.flow)) and np.abs(out.flow).max() < 1e-3
    assert not out.motion_mask.any()
    assert np.abs(out.object_motion).max() == 0.0


def test_cpu_inference_is_deterministic(tiny_weights: Path) -> None:
    runs = []
    for _ in range(2):
        est = Estimator(tiny_weights, device='cpu')
        outs = [est.process(_image(40, 120, i), _k(120, 40), 0.1 * i) for i in range(3)]
        runs.append(outs)
    for a, b in zip(*runs, strict=False):
        assert np.array_equal(a.depth, b.depth, equal_nan=True)  # NaN outside the crop
    assert np.array_equal(runs[0][2].flow, runs[1][2].flow, equal_nan=True)
    assert np.array_equal(runs[0][2].motion, runs[1][2].motion)


@pytest.mark.parametrize('image, k, stamp, message', [
    (np.zeros((32, 64, 3), np.float32), _k(64, 32), 0.0, 'uint8'),
    (np.zeros((32, 64, 4), np.uint8), _k(64, 32), 0.0, 'uint8'),
    (np.zeros((4, 64, 3), np.uint8), _k(64, 4), 0.0, 'too small'),
    (np.zeros((32, 64, 3), np.uint8), np.zeros((3, 3)), 0.0, 'intrinsics'),
    (np.zeros((32, 64, 3), np.uint8), np.full((3, 3), np.nan), 0.0, 'intrinsics'),
    (np.zeros((32, 64, 3), np.uint8), _k(64, 32), float('nan'), 'timestamp'),
])
def test_bad_input_is_a_clear_error_and_keeps_state(estimator: Estimator, image, k, stamp,
                                                     message) -> None:
    estimator.process(_image(32, 64), _k(64, 32), 0.0)
    with pytest.raises(ValueError, match=message):
        estimator.process(image, k, stamp)
    after = estimator.process(_image(32, 64, 1), _k(64, 32), 0.1)
    assert after.reset_reason is None and after.motion is not None


def test_device_and_precision_validation(tiny_weights: Path) -> None:
    with pytest.raises(ValueError, match='auto'):
        select_device('gpu')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available'):
            select_device('cuda:0')
        with pytest.raises(ValueError, match='needs a CUDA device'):
            Estimator(tiny_weights, device='cpu', precision='fp16')
    with pytest.raises(ValueError, match='multiples of 8'):
        Estimator(tiny_weights, device='cpu', input_size=(100, 30))
    assert select_device('auto').type in ('cpu', 'cuda')


def _rss_mib() -> float:
    with open('/proc/self/statm') as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


def test_memory_does_not_grow_over_many_frames(estimator: Estimator) -> None:
    # The 10 000-frame version is bench/bench_memory.py; this is its short form.
    image, k = _image(32, 64), _k(64, 32)
    for i in range(100):
        estimator.process(image, k, 0.05 * i)
    before = _rss_mib()
    for i in range(100, 1100):
        estimator.process(image, k, 0.05 * i)
    assert _rss_mib() - before < 16.0
