"""KITTI stereo depth and the rigid-flow ground truth it gives with the poses."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rmdepth_ros.datasets.kitti_stereo import KittiStereoSequence, rigid_flow_truth
from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.evaluation.scorecard_sets import DEFAULT_DATA
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

KITTI_00 = DEFAULT_DATA / 'kitti_odometry_00'
K = np.array([[300.0, 0.0, 159.5], [0.0, 300.0, 47.5], [0.0, 0.0, 1.0]])


def _pose(yaw_deg: float, t: tuple[float, float, float]) -> np.ndarray:
    yaw = np.radians(yaw_deg)
    T = np.eye(4)
    T[:3, :3] = [[np.cos(yaw), 0.0, np.sin(yaw)], [0.0, 1.0, 0.0], [-np.sin(yaw), 0.0,
                                                                      np.cos(yaw)]]
    T[:3, 3] = t
    return T


def test_rigid_flow_is_the_projection_into_the_previous_frame() -> None:
    rng = np.random.default_rng(0)
    height, width = 96, 320
    depth = rng.uniform(2.0, 60.0, (height, width))
    depth[10:20, 30:50] = np.nan  # no stereo match
    depth[40, 7] = 0.0
    prev_from_cur = _pose(2.0, (0.1, -0.02, 1.2))  # the camera drove 1.2 m forward, turned
    flow, valid = rigid_flow_truth(depth, K, prev_from_cur)
    assert flow.shape == (height, width, 2) and flow.dtype == np.float32

    # Independently: back-project, move into the previous camera, project with K.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack([(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1], np.ones_like(xs)], -1)
    points = rays * depth[..., None]
    moved = points @ prev_from_cur[:3, :3].T + prev_from_cur[:3, 3]
    projected = moved @ K.T
    previous = projected[..., :2] / projected[..., 2:]
    expected = np.stack([xs, ys], -1) - previous
    known = np.isfinite(depth) & (depth > 0)
    inside = ((previous[..., 0] >= -0.5) & (previous[..., 0] <= width - 0.5)
              & (previous[..., 1] >= -0.5) & (previous[..., 1] <= height - 0.5))
    np.testing.assert_allclose(flow[known], expected[known], atol=1e-3)
    assert np.isnan(flow[~known]).all()
    np.testing.assert_array_equal(valid, known & inside & (moved[..., 2] > 0))
    assert 0.5 < valid.mean() < known.mean()  # forward motion pushes the border out of view


def test_rigid_flow_of_driving_forward_points_away_from_the_centre() -> None:
    # docs/conventions.md: the point at x now was at x - flow before, nearer the centre
    flow, valid = rigid_flow_truth(np.full((96, 320), 10.0), K, _pose(0.0, (0.0, 0.0, 1.0)))
    assert valid.all()
    assert (flow[:, 200:, 0] > 0).all() and (flow[:, :120, 0] < 0).all()
    assert (flow[70:, :, 1] > 0).all() and (flow[:30, :, 1] < 0).all()


def test_rigid_flow_of_no_motion_is_zero_and_bad_depth_is_refused() -> None:
    flow, valid = rigid_flow_truth(np.full((8, 16), 5.0), K, np.eye(4))
    assert np.all(flow == 0) and valid.all()
    with pytest.raises(ValueError, match='depth must be'):
        rigid_flow_truth(np.ones((2, 8, 16)), K, np.eye(4))


def test_rigid_flow_matches_the_synthetic_worlds_exact_flow() -> None:
    """Fed a static synthetic scene's depth and poses, it gives the renderer's own flow."""
    config = SynthConfig(width=160, height=64, frames=3, seed=11, moving_cars_per_100m=0.0,
                         pedestrians_per_100m=0.0)
    frames = list(SyntheticSequence(config))
    for previous, current in zip(frames[:-1], frames[1:], strict=True):
        prev_from_cur = np.linalg.inv(previous.pose) @ current.pose
        flow, valid = rigid_flow_truth(current.depth, current.intrinsics, prev_from_cur)
        both = valid & current.flow_valid & np.isfinite(current.depth)
        assert both.mean() > 0.5
        np.testing.assert_allclose(flow[both], current.flow[both], atol=1e-2)
        assert np.abs(current.flow[both]).max() > 1.0  # the check has something to check


def test_stereo_sequence_refuses_a_folder_without_depth(tmp_path: Path) -> None:
    (tmp_path / 'image_l').mkdir()
    cv2.imwrite(str(tmp_path / 'image_l' / '000000.png'), np.zeros((8, 16), np.uint8))
    (tmp_path / 'calib.txt').write_text(' '.join(['1'] * 12) + '\n')
    with pytest.raises(DataError, match='no stereo depth folder'):
        KittiStereoSequence(tmp_path)
    (tmp_path / 'depth_stereo').mkdir()
    with pytest.raises(DataError, match='no depth PNG for the first frame 000000'):
        KittiStereoSequence(tmp_path)


@pytest.mark.skipif(not (KITTI_00 / 'depth_stereo').is_dir(),
                    reason=f'{KITTI_00}/depth_stereo is absent')
def test_kitti_00_stereo_flow_warps_the_previous_frame_onto_the_current() -> None:
    sequence = KittiStereoSequence(KITTI_00, poses=False)
    assert len(sequence) == 100
    first, previous, current = sequence[0], sequence[40], sequence[41]
    assert first.flow is None and current.pose is None
    assert 0.5 < np.isfinite(current.depth).mean() < 0.7  # README: about 61 % valid
    valid = current.flow_valid
    assert valid.mean() > 0.5
    height, width = current.image.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    flow = np.nan_to_num(current.flow)
    warped = cv2.remap(previous.image.astype(np.float32), xs - flow[..., 0],
                       ys - flow[..., 1], cv2.INTER_LINEAR)
    now = current.image.astype(np.float32)
    error = np.abs(warped - now)[valid].mean()
    unmoved = np.abs(previous.image.astype(np.float32) - now)[valid].mean()
    assert np.linalg.norm(current.flow[valid], axis=-1).mean() > 5.0
    assert error < 0.4 * unmoved, (error, unmoved)
