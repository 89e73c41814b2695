"""Evaluation metrics against hand-computed values (rmdepth_ros.evaluation)."""

import math

import numpy as np
import pytest

from rmdepth_ros.evaluation.metrics import (
    crop_mask,
    depth_metrics,
    flow_epe,
    flow_metrics,
    mask_iou,
    mean_metrics,
    median_scale,
    motion_errors,
    rotation_angle_deg,
    snippet_ate,
)
from rmdepth_ros.evaluation.timing import latency_summary, throughput
from rmdepth_ros.evaluation.trajectory import (
    ate,
    rpe,
    trajectory_snippet_ate,
    umeyama,
    yaw_deg,
    yaw_sums,
)


def _rot_z(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def _pose(R: np.ndarray, t) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = R, t
    return pose


def test_depth_metrics_unscaled_by_hand() -> None:
    gt = np.array([[1.0, 2.0, 3.0, 4.0]])
    pred = np.array([[1.0, 2.0, 3.0, 8.0]])
    m = depth_metrics(gt, pred, median_scaling=False)
    assert m['abs_rel'] == pytest.approx(0.25)            # (0 + 0 + 0 + 4/4) / 4
    assert m['sq_rel'] == pytest.approx(1.0)              # (16 / 4) / 4
    assert m['rmse'] == pytest.approx(2.0)                # sqrt(16 / 4)
    assert m['rmse_log'] == pytest.approx(math.log(2) / 2)
    # ratio 2 on the last pixel is above 1.25, 1.25^2 and 1.25^3 = 1.953: it fails all three
    assert (m['a1'], m['a2'], m['a3']) == (0.75, 0.75, 0.75)
    m = depth_metrics(gt, np.array([[1.0, 2.0, 3.0, 5.5]]), median_scaling=False)
    assert (m['a1'], m['a2'], m['a3']) == (0.75, 1.0, 1.0)  # ratio 1.375: only a1 fails


def test_depth_metrics_median_scaling_and_cap() -> None:
    gt = np.array([[2.0, 4.0, 8.0, 10.0, 100.0, np.inf]])
    pred = gt * 0.5  # right up to scale
    scaled = depth_metrics(gt, pred)
    assert scaled['abs_rel'] == pytest.approx(0.0) and scaled['a1'] == 1.0
    unscaled = depth_metrics(gt, pred, median_scaling=False)
    assert unscaled['abs_rel'] == pytest.approx(0.5)
    valid = np.isfinite(gt) & (gt < 80)  # 100 m is beyond the 80 m cap, inf is sky
    assert median_scale(gt, pred, valid) == pytest.approx(2.0)
    assert depth_metrics(gt, pred, max_depth=5.0, median_scaling=False)['rmse'] == \
        pytest.approx(math.sqrt((1 + 4) / 2))  # only 2 and 4 m remain
    assert depth_metrics(np.full((2, 2), np.nan), np.ones((2, 2))) is None


def test_crops() -> None:
    garg = crop_mask((100, 200), 'garg')
    rows, cols = np.nonzero(garg.any(1))[0], np.nonzero(garg.any(0))[0]
    # int(0.408 * 100) = 40 .. int(0.992 * 100) - 1, int(0.036 * 200) = 7 .. int(0.964 * 200) - 1
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (40, 98, 7, 191)
    assert crop_mask((10, 10), None).all()
    gt = np.full((100, 200), 10.0)
    pred = gt.copy()
    pred[:40] = 1.0  # wrong only above the Garg crop
    assert depth_metrics(gt, pred, crop='garg', median_scaling=False)['abs_rel'] == 0.0
    assert depth_metrics(gt, pred, median_scaling=False)['abs_rel'] > 0.3
    with pytest.raises(ValueError, match='crop'):
        crop_mask((4, 4), 'nope')


def test_flow_epe_and_fl_all_thresholds() -> None:
    gt = np.zeros((1, 5, 2), np.float32)
    gt[0, :, 0] = [100, 100, 10, 10, 10]
    pred = gt.copy()
    pred[0, :, 0] += [4.0, 6.0, 3.5, 2.9, 50.0]
    valid = np.array([[True, True, True, True, False]])
    # 4 px on 100 px: > 3 px but < 5 %: fine. 6 px on 100: outlier. 3.5 on 10: outlier.
    m = flow_metrics(pred, gt, valid)
    assert m['epe'] == pytest.approx((4 + 6 + 3.5 + 2.9) / 4)
    assert m['fl_all'] == pytest.approx(0.5)
    assert flow_epe(pred, gt, valid) == pytest.approx(m['epe'])
    assert flow_metrics(pred, gt)['fl_all'] == pytest.approx(0.6)  # no mask: all five pixels
    assert flow_metrics(pred, np.full_like(gt, np.nan)) is None


def test_mask_iou() -> None:
    pred = np.array([[1, 1, 0, 0]], bool)
    gt = np.array([[0, 1, 1, 0]], bool)
    assert mask_iou(pred, gt) == pytest.approx(1 / 3)
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) is None


def test_umeyama_recovers_similarity() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(20, 3))
    R = _rot_z(30) @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    target = 2.5 * source @ R.T + [1.0, -2.0, 3.0]
    s, R_est, t = umeyama(source, target)
    assert s == pytest.approx(2.5)
    np.testing.assert_allclose(R_est, R, atol=1e-9)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-9)
    row = ate(target, source)
    assert row['ate_rmse'] < 1e-9 and row['scale'] == pytest.approx(2.5)
    se3 = ate(target, source, 'se3')
    assert se3['scale'] == 1.0 and se3['ate_rmse'] > 0.1


def test_ate_by_hand() -> None:
    gt = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    pred = gt + [[0, 0, 0], [0, 0.3, 0], [0, 0, 0]]
    row = ate(gt, pred, 'none')
    assert row['ate_max'] == pytest.approx(0.3) and row['ate_mean'] == pytest.approx(0.1)
    assert row['ate_rmse'] == pytest.approx(math.sqrt(0.09 / 3))


def test_rpe_by_hand() -> None:
    gt = [_pose(np.eye(3), [0, 0, i]) for i in range(4)]
    pred = [_pose(_rot_z(2 * i), [0, 0, 1.1 * i]) for i in range(4)]
    row = rpe(np.stack(gt), np.stack(pred))
    assert row['rpe_trans_mean'] == pytest.approx(0.1)
    assert row['rpe_rot_mean'] == pytest.approx(2.0)
    doubled = [_pose(np.eye(3), [0, 0, 2 * i]) for i in range(4)]
    assert rpe(np.stack(gt), np.stack(doubled), scale=0.5)['rpe_trans_rmse'] < 1e-12
    assert rpe(np.stack(gt[:1]), np.stack(gt[:1])) is None


def test_snippet_ate_by_hand() -> None:
    gt = np.array([[0.0, 0, 0], [0, 0, 1], [0, 0, 2]])
    assert snippet_ate(gt, gt * 2 + 5) == pytest.approx(0.0)  # shift and scale are free
    # orthogonal prediction: least-squares scale 0, error = the truth: sqrt(1) / 2
    assert snippet_ate(np.array([[0.0, 0, 0], [1, 0, 0]]),
                       np.array([[0.0, 0, 0], [0, 1, 0]])) == pytest.approx(0.5)
    poses = [_pose(_rot_z(5 * i), [i, 0.2 * i * i, 0]) for i in range(8)]
    scaled = [_pose(p[:3, :3], 3 * p[:3, 3]) for p in poses]
    row = trajectory_snippet_ate(np.stack(poses), np.stack(scaled))
    assert row['snippets'] == 4 and row['snippet_ate_mean'] < 1e-12
    assert trajectory_snippet_ate(np.stack(poses[:4]), np.stack(poses[:4])) is None


def test_motion_errors_and_means() -> None:
    gt = _pose(np.eye(3), [0, 0, 1])
    pred = _pose(_rot_z(3), [0, 0, 2])
    row = motion_errors(pred, gt)
    assert row['rot_err_deg'] == pytest.approx(3.0)
    assert row['trans_err'] == pytest.approx(0.0) and row['trans_dir_err_deg'] == 0.0
    assert mean_metrics([{'a': 1.0}, {'a': 3.0}]) == {'a': 2.0}
    assert mean_metrics([]) == {}


def _axis_angle(axis, deg: float) -> np.ndarray:
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = math.radians(deg)
    return np.eye(3) + math.sin(a) * K + (1 - math.cos(a)) * K @ K


def test_tiny_rotations_measured_in_float32() -> None:
    """0.005 deg (float32 matrices, as the network gives) within 10 %: arccos of the trace
    floors near 0.02 deg there."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        R = _axis_angle(rng.normal(size=3), 0.005).astype(np.float32)
        assert rotation_angle_deg(R) == pytest.approx(0.005, rel=0.1)
        gt = _pose(_axis_angle(rng.normal(size=3), 2.0), [0, 0, 1]).astype(np.float32)
        pred = gt.copy()
        pred[:3, :3] = gt[:3, :3] @ R
        assert motion_errors(pred, gt)['rot_err_deg'] == pytest.approx(0.005, rel=0.1)
    assert rotation_angle_deg(_axis_angle([0, 1, 0], 179.0)) == pytest.approx(179.0)
    assert rotation_angle_deg(np.eye(3)) == 0.0


def test_direction_error_excludes_zero_translations() -> None:
    gt = _pose(np.eye(3), [0, 0, 1])
    assert math.isnan(motion_errors(_pose(np.eye(3), [0, 0, 0]), gt)['trans_dir_err_deg'])
    assert math.isnan(motion_errors(gt, _pose(np.eye(3), [0, 0, 0]))['trans_dir_err_deg'])
    assert motion_errors(_pose(np.eye(3), [0, 1, 1]), gt)['trans_dir_err_deg'] == (
        pytest.approx(45.0))
    rows = [motion_errors(_pose(np.eye(3), t), gt) for t in ([0, 0, 0], [0, 1, 1], [0, 0, 2])]
    mean = mean_metrics(rows)
    assert mean['trans_dir_err_deg'] == pytest.approx(22.5)  # (45 + 0) / 2, zero left out
    assert mean['trans_dir_err_deg_excluded'] == 1.0 and 'rot_err_deg_excluded' not in mean


def test_yaw_sums_and_rpe_per_metre() -> None:
    def rot_y(deg: float) -> np.ndarray:
        return _axis_angle([0, 1, 0], deg)

    assert yaw_deg(rot_y(-7.0)) == pytest.approx(-7.0)
    gt = [np.eye(4)]
    for _ in range(4):  # a 40 deg turn in 10 deg steps, 2 m per frame
        gt.append(gt[-1] @ _pose(rot_y(10.0), [0, 0, 2]))
    straight = [_pose(np.eye(3), [0, 0, 2 * i]) for i in range(5)]
    row = yaw_sums(np.stack(gt), np.stack(straight))
    assert row['yaw_sum_gt_deg'] == pytest.approx(40.0) and row['yaw_sum_pred_deg'] == 0.0
    assert row['yaw_sum_err_deg'] == pytest.approx(40.0)
    zero = rpe(np.stack(gt), np.stack([np.eye(4)] * 5))
    assert zero['rpe_trans_per_m'] == pytest.approx(1.0)  # standing still: all of it missed
    assert zero['rpe_rot_deg_per_m'] == pytest.approx(40.0 / 8.0)
    assert 'rpe_trans_per_m' not in rpe(np.stack([np.eye(4)] * 3), np.stack([np.eye(4)] * 3))


def test_timing_summaries() -> None:
    row = latency_summary([10.0, 20.0, 30.0, None, float('nan')])
    assert row['mean_ms'] == 20.0 and row['median_ms'] == 20.0 and row['max_ms'] == 30.0
    assert row['count'] == 3
    assert latency_summary([]) is None
    assert throughput(10, 2.0) == 5.0 and throughput(3, 0.0) is None
