"""Units of the node's numpy helpers: ground-plane scale and odometry integration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rmdepth_ros.ros.node_config import NodeConfig
from rmdepth_ros.scale import MIN_MEASUREMENTS, ScaleTracker, fit_ground, gravity_in_camera
from rmdepth_ros.visual_odometry import (
    RESET_POSE_VARIANCE,
    OdometryIntegrator,
    rotation_vector,
)

K = np.array([[200.0, 0.0, 159.5], [0.0, 200.0, 47.5], [0.0, 0.0, 1.0]])
SIZE = (320, 96)  # (width, height)
# base_link x forward, z up; camera 1.2 m up looking forward (the example in rmdepth.yaml)
FORWARD_CAMERA = [0.0, 0.0, 1.2, -0.5, 0.5, -0.5, 0.5]


def ground_depth(height: float, down: np.ndarray, noise: float = 0.0, outliers: float = 0.0,
                 seed: int = 0) -> np.ndarray:
    """Depth (z) of the plane n . X = height seen through K; NaN above the horizon."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:SIZE[1], 0:SIZE[0]].astype(float)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    along = rays @ down
    with np.errstate(divide='ignore'):
        depth = np.where(along > 0.02, height / along, np.nan)
    depth *= 1.0 + noise * rng.standard_normal(depth.shape)
    clutter = rng.random(depth.shape) < outliers
    depth[clutter] *= rng.uniform(0.3, 0.8, clutter.sum())  # obstacles nearer than the ground
    return depth.astype(np.float32)


def tilt_down(degrees: float) -> np.ndarray:
    """Gravity in the optical frame of a camera pitched down by `degrees`."""
    a = math.radians(degrees)
    return np.array([0.0, math.cos(a), -math.sin(a)])


def test_gravity_from_the_extrinsic() -> None:
    np.testing.assert_allclose(gravity_in_camera(None), [0.0, 1.0, 0.0])
    T = NodeConfig.from_values({'base_to_camera': FORWARD_CAMERA}).base_to_camera_matrix
    np.testing.assert_allclose(T[:3, :3], [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)
    np.testing.assert_allclose(gravity_in_camera(T), [0.0, 1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize('pitch', [0.0, 8.0])
def test_ground_fit_recovers_camera_height(pitch: float) -> None:
    down = tilt_down(pitch)
    depth = ground_depth(2.5, down, noise=0.005, outliers=0.2)
    fit = fit_ground(depth, K, tilt_down(0.0), np.random.default_rng(1))
    assert fit is not None
    assert fit.height == pytest.approx(2.5, rel=0.02)
    assert fit.normal @ down == pytest.approx(1.0, abs=2e-3)


def test_no_ground_no_fit() -> None:
    wall = np.full((SIZE[1], SIZE[0]), 4.0, dtype=np.float32)  # fronto-parallel: no floor
    assert fit_ground(wall, K, tilt_down(0.0), np.random.default_rng(0)) is None
    empty = np.full_like(wall, np.nan)
    assert fit_ground(empty, K, tilt_down(0.0), np.random.default_rng(0)) is None


def test_camera_height_scale_is_established_after_enough_fits() -> None:
    tracker = ScaleTracker('camera_height', camera_height=1.5, factor=2.0)
    states = [tracker.update(ground_depth(3.0, tilt_down(0.0), 0.005, 0.1, seed=i), K)
              for i in range(MIN_MEASUREMENTS)]
    assert not states[0].established and states[0].scale == 2.0  # the prior
    assert 'not established' in states[-2].status
    assert 'not metres' in states[-2].units and states[-1].units == 'metres'
    assert 'not metres' in ScaleTracker('training').state.units
    assert 'not metres' in ScaleTracker('training').state.status
    assert states[-1].established and states[-1].scale == pytest.approx(0.5, rel=0.02)
    assert states[-1].relative_sigma < states[0].relative_sigma
    depth = np.array([[2.0, np.nan]], dtype=np.float32)
    np.testing.assert_allclose(states[-1].apply(depth), depth * states[-1].scale, rtol=1e-6)


def test_training_and_fixed_scale() -> None:
    depth = np.ones((4, 4), dtype=np.float32)
    assert ScaleTracker('training').update(depth, K).scale == 1.0
    fixed = ScaleTracker('fixed', factor=3.0).update(depth, K)
    assert fixed.established and fixed.apply(depth)[0, 0] == 3.0
    with pytest.raises(ValueError):
        ScaleTracker('metric')


def motion(tx: float = 0.0, ty: float = 0.0, tz: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    """T_prev_cur in the optical frame; yaw turns about the optical y axis."""
    T = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    T[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    T[:3, 3] = tx, ty, tz
    return T


def test_forward_motion_in_the_optical_frame() -> None:
    odometry = OdometryIntegrator()
    first = odometry.update(None, 0.0, reset=True)
    assert not first.moved and np.array_equal(first.T_odom_base, np.eye(4))
    for i in range(1, 4):
        estimate = odometry.update(motion(tz=0.5), 0.1 * i, scale=2.0)
    np.testing.assert_allclose(estimate.T_odom_base[:3, 3], [0.0, 0.0, 3.0])
    np.testing.assert_allclose(estimate.linear, [0.0, 0.0, 10.0])
    assert np.all(estimate.pose_variance > 0)


def test_extrinsic_turns_camera_motion_into_base_motion() -> None:
    T_base_cam = NodeConfig.from_values({'base_to_camera': FORWARD_CAMERA}).base_to_camera_matrix
    odometry = OdometryIntegrator(T_base_cam)
    odometry.update(None, 0.0, reset=True)
    estimate = odometry.update(motion(tz=1.0), 0.5)  # the camera moves along its optical axis
    np.testing.assert_allclose(estimate.T_odom_base[:3, 3], [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(estimate.linear, [2.0, 0.0, 0.0], atol=1e-12)
    # turning right about the optical -y axis... is turning about base -z (clockwise)
    turn = odometry.update(motion(yaw=0.1), 1.0)
    np.testing.assert_allclose(turn.angular, [0.0, 0.0, -0.2], atol=1e-9)


def test_resets_and_bad_motion_never_move_the_pose() -> None:
    odometry = OdometryIntegrator()
    odometry.update(None, 0.0, reset=True)
    moved = odometry.update(motion(tx=0.3, yaw=0.2), 0.1)
    after_reset = odometry.update(None, 5.0, reset=True)
    np.testing.assert_array_equal(after_reset.T_odom_base, moved.T_odom_base)
    np.testing.assert_allclose(after_reset.pose_variance,
                               moved.pose_variance + RESET_POSE_VARIANCE)
    assert np.all(after_reset.twist_variance >= 10.0) and not after_reset.moved
    bad = motion(tz=1.0)
    bad[0, 0] = np.nan
    rejected = odometry.update(bad, 5.1)
    np.testing.assert_array_equal(rejected.T_odom_base, moved.T_odom_base)
    assert rejected.pose_variance[0] > after_reset.pose_variance[0]


@pytest.mark.parametrize('angle', [1e-8, 0.3, 2.0, math.pi - 1e-4])
def test_rotation_vector(angle: float) -> None:
    axis = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    R = np.eye(3) + math.sin(angle) * skew + (1 - math.cos(angle)) * skew @ skew
    vector = rotation_vector(R)
    assert np.linalg.norm(vector) == pytest.approx(angle, rel=1e-6, abs=1e-12)
    assert abs(vector @ axis) == pytest.approx(angle, rel=1e-4, abs=1e-12)
