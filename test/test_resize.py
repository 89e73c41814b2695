"""Crop / pad / stretch geometry between input images and the network (rmdepth_ros.resize)."""

import cv2
import numpy as np
import pytest

from rmdepth_ros.resize import input_window, native_size

NET = (40, 12)  # 10:3, like 640x192


def _project(k: np.ndarray, point: np.ndarray) -> np.ndarray:
    uvw = k @ point
    return uvw[:2] / uvw[2]


@pytest.mark.parametrize('size, mode, expected', [
    ((80, 60), 'crop', (0, 18, 80, 24)),      # 4:3 -> keep rows 18..41
    ((80, 60), 'pad', (-60, 0, 200, 60)),     # 4:3 -> 60 columns of padding each side
    ((80, 60), 'stretch', (0, 0, 80, 60)),
    ((100, 10), 'crop', (33, 0, 33, 10)),     # wider than 10:3 -> keep columns 33..65
    ((100, 10), 'pad', (0, -10, 100, 30)),    # 10 rows of padding each side
    ((80, 24), 'crop', (0, 0, 80, 24)),       # already 10:3: every mode is a plain resize
    ((80, 24), 'pad', (0, 0, 80, 24)),
])
def test_window_rectangles(size, mode, expected) -> None:
    window = input_window(size, NET, mode)
    assert (window.x0, window.y0, window.width, window.height) == expected


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError,
                       match="resize must be one of crop, pad, stretch, native, got 'fit'"):
        input_window((80, 60), NET, 'fit')


@pytest.mark.parametrize('mode', ['crop', 'pad', 'stretch', 'native'])
def test_network_intrinsics_project_a_point_where_the_resized_image_shows_it(mode) -> None:
    """A 3D point lands in the network image where the pixel it lit in the input went."""
    size = (80, 60)
    k = np.array([[70.0, 0.0, 41.3], [0.0, 65.0, 28.7], [0.0, 0.0, 1.0]])
    window = input_window(size, NET, mode)
    net_k = window.network_intrinsics(k)
    point = np.array([0.11, -0.05, 1.0])
    u, v = _project(k, point)
    # Where pixel (u, v) of the input lands: shift by the window corner, then the cv2.resize
    # pixel-centre map x' = (x + 0.5) * s - 0.5.
    sx, sy = window.net_size[0] / window.width, window.net_size[1] / window.height
    expected = ((u - window.x0 + 0.5) * sx - 0.5, (v - window.y0 + 0.5) * sy - 0.5)
    np.testing.assert_allclose(_project(net_k, point), expected, atol=1e-12)


def test_to_network_crops_pads_with_edge_replication_and_stretches() -> None:
    image = np.arange(60 * 80, dtype=np.float32).reshape(60, 80)
    crop = input_window((80, 60), (80, 24), 'crop').to_network(image)  # no resize: exact
    np.testing.assert_array_equal(crop, image[18:42])
    pad = input_window((80, 60), (200, 60), 'pad').to_network(image)
    np.testing.assert_array_equal(pad[:, 60:140], image)
    np.testing.assert_array_equal(pad[:, :60], np.repeat(image[:, :1], 60, axis=1))
    np.testing.assert_array_equal(pad[:, 140:], np.repeat(image[:, -1:], 60, axis=1))
    stretch = input_window((80, 60), NET, 'stretch').to_network(image.astype(np.uint8))
    assert stretch.shape == (12, 40) and stretch.dtype == np.uint8
    with pytest.raises(ValueError, match='image is 80x59, window is for 80x60'):
        input_window((80, 60), NET, 'crop').to_network(image[:59])


def test_crop_outputs_are_nan_outside_the_window_and_exact_inside() -> None:
    window = input_window((80, 60), (80, 24), 'crop')  # window == network size: no resampling
    depth = np.full((24, 80), 5.0, np.float32)
    flow = np.zeros((24, 80, 2), np.float32)
    flow[..., 0], flow[..., 1] = 1.5, -2.0
    flow[0, 0] = np.nan
    mask = np.zeros((24, 80), bool)
    mask[3, 4] = True
    full_depth = window.depth_to_input(depth)
    assert full_depth.shape == (60, 80)
    assert np.isnan(full_depth[:18]).all() and np.isnan(full_depth[42:]).all()
    assert np.all(full_depth[18:42] == 5.0)
    full_flow = window.flow_to_input(flow)
    assert np.isnan(full_flow[18, 0]).all() and np.all(full_flow[19, 0] == [1.5, -2.0])
    assert np.isnan(full_flow[:18]).all()
    full_mask = window.mask_to_input(mask)
    assert full_mask.sum() == 1 and full_mask[21, 4]
    motion = window.field_to_input(np.ones((24, 80, 3), np.float32))
    assert motion.shape == (60, 80, 3) and np.isnan(motion[0]).all() and np.all(motion[30] == 1)


def test_flow_scales_with_the_window_not_the_image() -> None:
    """Pad: a 4:3 image in a 10:3 window of 200 px; 1 network px = 5 input px horizontally."""
    window = input_window((80, 60), NET, 'pad')
    flow = np.zeros((12, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = 1.0, 1.0
    full = window.flow_to_input(flow)
    assert full.shape == (60, 80, 2)
    np.testing.assert_allclose(full[..., 0], 5.0)
    np.testing.assert_allclose(full[..., 1], 5.0)
    # The padded part is dropped; every input pixel is estimated.
    depth = window.depth_to_input(np.full((12, 40), 3.0, np.float32))
    np.testing.assert_allclose(depth, 3.0, rtol=1e-6)


def test_round_trip_of_a_smooth_disparity_through_the_crop() -> None:
    """An image-space ramp survives to_network + depth_to_input inside the window."""
    xs = np.arange(160, dtype=np.float32)
    disparity = np.tile(0.1 + 0.001 * xs, (120, 1))
    window = input_window((160, 120), NET, 'crop')
    small = window.to_network(disparity)
    back = 1.0 / window.depth_to_input(1.0 / small)
    inside = back[window.y0 + 4:window.y0 + window.height - 4, 4:-4]
    np.testing.assert_allclose(inside, disparity[:inside.shape[0], 4:-4], atol=2e-4)
    assert cv2.countNonZero(np.isnan(back).astype(np.uint8)) == 160 * (120 - window.height)


@pytest.mark.parametrize('image, budget, expected', [
    ((640, 480), (192, 64), (128, 96)),     # 4:3 at the shipped weights' 12288 pixels
    ((1241, 376), (192, 64), (208, 64)),    # KITTI, 3.3:1
    ((1920, 640), (192, 64), (192, 64)),    # the budget's own aspect: the budget itself
    ((1280, 720), (192, 64), (144, 80)),    # 16:9
    ((1241, 376), (320, 96), (320, 96)),
])
def test_native_size_keeps_the_aspect_and_the_pixel_budget(image, budget, expected) -> None:
    assert native_size(image, budget) == expected


def test_native_sizes_are_multiples_of_8_near_the_budget() -> None:
    for width in range(100, 2000, 37):
        for height in (120, 376, 480, 720, 1216):
            net_w, net_h = native_size((width, height), (192, 64))
            assert net_w % 8 == 0 and net_h % 8 == 0
            if 0.25 < width / height < 8:
                assert 0.8 < net_w * net_h / 12288 < 1.25, (width, height)
                assert abs(net_w / net_h / (width / height) - 1) < 0.12, (width, height)


def test_native_window_is_the_whole_image() -> None:
    window = input_window((80, 60), NET, 'native')
    assert (window.x0, window.y0, window.width, window.height) == (0, 0, 80, 60)
    assert window.net_size == native_size((80, 60), NET) == (24, 16)
    with pytest.raises(ValueError, match='sizes must be positive'):
        native_size((0, 60), NET)


@pytest.mark.parametrize('mode', ['crop', 'pad', 'stretch', 'native'])
def test_sample_to_network_picks_the_image_pixel_under_each_network_pixel(mode: str) -> None:
    """Label maps follow the network input pixel for pixel: a map holding each image pixel's
    own coordinates comes back as the coordinates the window maps to, `fill` outside."""
    size = (97, 41)
    window = input_window(size, (32, 16), mode)
    ys, xs = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    coords = np.stack([xs, ys], axis=-1)
    sampled = window.sample_to_network(coords, -1.0)
    net_w, net_h = window.net_size
    assert sampled.shape == (net_h, net_w, 2)
    sx, sy = window.scale
    centre_x = window.x0 + (np.arange(net_w) + 0.5) / sx - 0.5
    centre_y = window.y0 + (np.arange(net_h) + 0.5) / sy - 0.5
    inside = sampled[..., 0] >= 0
    # every sampled pixel lies within a pixel of the network pixel's centre on the image
    assert np.all(np.abs(sampled[..., 0] - centre_x[None, :])[inside] <= 0.5 + 1e-6)
    assert np.all(np.abs(sampled[..., 1] - centre_y[:, None])[inside] <= 0.5 + 1e-6)
    outside = ((centre_x[None, :] < -0.5) | (centre_x[None, :] > size[0] - 0.5)
               | (centre_y[:, None] < -0.5) | (centre_y[:, None] > size[1] - 0.5))
    assert np.array_equal(~inside, outside)
    assert (mode == 'pad') == bool(outside.any())
    mask = window.sample_to_network(np.ones(size[::-1], bool), False)
    assert mask.dtype == bool and np.array_equal(mask, inside)
    with pytest.raises(ValueError, match='window is for'):
        window.sample_to_network(np.zeros((5, 5)), 0.0)
