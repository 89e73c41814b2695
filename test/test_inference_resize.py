"""The Estimator's `resize` option: crop / pad / stretch / native, outputs on the input's grid."""

from pathlib import Path

import numpy as np
import pytest

from rmdepth_ros.inference import Estimator
from rmdepth_ros.resize import input_window, native_size

WIDTH, HEIGHT = 64, 48  # 4:3, the tiny network is 64x32 (2:1)


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


K = np.array([[50.0, 0.0, 31.5], [0.0, 50.0, 23.5], [0.0, 0.0, 1.0]])


def _two_frames(weights: Path, resize: str, **options):
    estimator = Estimator(weights, device='cpu', resize=resize, **options)
    return estimator.process(_image(0), K, 0.0), estimator.process(_image(1), K, 0.1)


def test_crop_estimates_the_centre_rows_only(tiny_weights: Path) -> None:
    first, second = _two_frames(tiny_weights, 'crop')
    rows = np.isfinite(first.depth).all(axis=1)
    # 4:3 -> 2:1: the centre 32 of 48 rows, 8 dropped above and below.
    np.testing.assert_array_equal(np.flatnonzero(rows), np.arange(8, 40))
    assert np.isnan(first.depth[:8]).all() and np.isnan(first.depth[40:]).all()
    np.testing.assert_array_equal(first.intrinsics, K)
    assert np.isnan(second.flow[:8]).all() and np.isnan(second.object_motion[40:]).all()
    assert not second.motion_mask[:8].any()
    assert np.isfinite(second.flow[10:38, 2:-2]).mean() > 0.5


def test_crop_equals_stretching_the_cropped_image(tiny_weights: Path) -> None:
    """The window is exact: cropping rows 8..39 by hand and stretching gives the same numbers."""
    # the networks' path (the geometry stage runs on each input's own grid)
    crop = Estimator(tiny_weights, device='cpu', resize='crop', depth_source='network')
    by_hand = Estimator(tiny_weights, device='cpu', resize='stretch', depth_source='network')
    k_crop = K.copy()
    k_crop[1, 2] -= 8
    for seed, stamp in ((0, 0.0), (1, 0.1)):
        a = crop.process(_image(seed), K, stamp)
        b = by_hand.process(_image(seed)[8:40], k_crop, stamp)
    np.testing.assert_allclose(a.depth[8:40], b.depth, rtol=1e-5)
    np.testing.assert_allclose(a.motion, b.motion, atol=1e-6)
    np.testing.assert_allclose(a.flow[8:40], b.flow, atol=1e-4)


def test_pad_and_stretch_estimate_every_pixel(tiny_weights: Path) -> None:
    for mode in ('pad', 'stretch'):
        first, second = _two_frames(tiny_weights, mode)
        assert first.depth.shape == (HEIGHT, WIDTH) and np.isfinite(first.depth).all(), mode
        assert second.flow.shape == (HEIGHT, WIDTH, 2)
        assert np.isfinite(second.object_motion).all(), mode


def test_network_output_gives_the_windows_intrinsics(tiny_weights: Path) -> None:
    first, _ = _two_frames(tiny_weights, 'pad', output='network')
    assert first.depth.shape == (32, 64)
    window = input_window((WIDTH, HEIGHT), (64, 32), 'pad')
    np.testing.assert_allclose(first.intrinsics, window.network_intrinsics(K))
    assert first.intrinsics[0, 0] == pytest.approx(50.0 * 64 / 96)  # 48 rows -> 96 columns


def test_native_gives_depth_on_every_pixel_and_motion_on_the_crop_window(
        tiny_weights: Path) -> None:
    # the networks' outputs (depth_source 'fused' gives flow on every pixel: the geometry
    # works on the whole image)
    first, second = _two_frames(tiny_weights, 'native', depth_source='network')
    assert np.isfinite(first.depth).all() and np.isfinite(second.depth).all()
    np.testing.assert_array_equal(first.intrinsics, K)
    net_w, net_h = native_size((WIDTH, HEIGHT), (64, 32))
    assert (net_w, net_h) == (56, 40)  # 4:3-ish at about 64 x 32 pixels
    network = Estimator(tiny_weights, device='cpu', resize='native', output='network')
    assert network.process(_image(0), K, 0.0).depth.shape == (net_h, net_w)
    # Depth is the network's at that size, as stretching to it by hand gives.
    by_hand = Estimator(tiny_weights, device='cpu', resize='stretch', input_size=(net_w, net_h))
    np.testing.assert_allclose(first.depth, by_hand.process(_image(0), K, 0.0).depth,
                               rtol=1e-5)
    # The motion network runs on the crop window (rows 8..39), as resize 'crop' does.
    assert np.isnan(second.flow[:8]).all() and np.isnan(second.object_motion[40:]).all()
    assert np.isfinite(second.object_motion[8:40]).all()
    crop = _two_frames(tiny_weights, 'crop')[1]
    assert np.isfinite(second.flow[10:38, 2:-2]).mean() > 0.5
    assert np.abs(second.motion - crop.motion).max() < 0.05


def test_native_is_crop_when_the_image_has_the_networks_aspect(tiny_weights: Path) -> None:
    image = np.random.default_rng(5).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    k = np.array([[90.0, 0.0, 63.5], [0.0, 90.0, 31.5], [0.0, 0.0, 1.0]])
    outputs = {}
    for mode in ('native', 'crop'):
        estimator = Estimator(tiny_weights, device='cpu', resize=mode)
        outputs[mode] = [estimator.process(image, k, t) for t in (0.0, 0.1)]
    for a, b in zip(outputs['native'], outputs['crop'], strict=True):
        np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(outputs['native'][1].motion, outputs['crop'][1].motion)


def test_unknown_resize_is_an_error(tiny_weights: Path) -> None:
    with pytest.raises(ValueError,
                       match="resize must be one of crop, pad, stretch, native, got 'fit'"):
        Estimator(tiny_weights, device='cpu', resize='fit')
