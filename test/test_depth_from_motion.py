"""The geometry stage (rmdepth_ros.geometry): triangulation, the depth filter, depth from motion.

Synthetic street frames with exact depth and poses stand in for the networks: the 'network
depth' is the true depth in model units with an error that grows down the image (the network's
typical failure: depth as a function of the row), the motion the true one in model units, so
what geometry recovers can be checked against the truth.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rmdepth_ros.evaluation.metrics import depth_metrics
from rmdepth_ros.frame_input import validate_frame
from rmdepth_ros.geometry.dense_flow import DenseFlow
from rmdepth_ros.geometry.depth_filter import DepthFilter
from rmdepth_ros.geometry.depth_from_motion import DepthFromMotion, _rigid_flow
from rmdepth_ros.geometry.triangulation import triangulate_flow
from rmdepth_ros.motion.two_view import to_gray
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

UNITS = 0.7  # model units per metre


@pytest.fixture(scope='module')
def frames() -> list:
    config = SynthConfig(width=640, height=192, frames=6, seed=23, moving_cars_per_100m=0.0,
                         pedestrians_per_100m=0.0)
    return list(SyntheticSequence(config))


def _network_depth(frame) -> np.ndarray:
    """True depth in model units, distorted by a row-dependent factor (0.7 at the top to 1.4
    at the bottom): the kind of error geometry must correct."""
    depth = frame.depth.astype(np.float32) * UNITS
    rows = np.linspace(0.7, 1.4, depth.shape[0], dtype=np.float32)[:, None]
    depth = depth * rows
    depth[~np.isfinite(depth)] = np.nan
    return depth


def _motion(frames: list, i: int) -> np.ndarray:
    T = np.linalg.inv(frames[i - 1].pose) @ frames[i].pose
    T[:3, 3] *= UNITS
    return T


def _truth(frame) -> np.ndarray:
    return np.where(np.isfinite(frame.depth), frame.depth, np.nan)


def test_triangulation_recovers_the_depth_of_rigid_flow() -> None:
    K = np.array([[300.0, 0, 160], [0, 300.0, 60], [0, 0, 1]])
    depth = np.linspace(4.0, 30.0, 120 * 320, dtype=np.float32).reshape(120, 320)
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.array([0.0, 0.01, 0.002]))[0]
    T[:3, 3] = [0.1, 0.0, -0.8]
    flow = _rigid_flow(depth, K, T, None)
    tri = triangulate_flow(flow, K, T)
    good = tri.speed > 1.0  # away from the epipole
    assert good.mean() > 0.9
    np.testing.assert_allclose(1.0 / tri.inverse_depth[good], depth[good], rtol=1e-3)
    assert np.nanmax(tri.epipolar_px[good]) < 1e-2
    # a flow pushed off its epipolar line by 2 px: the distance says so, and no depth explains it
    shifted = flow + np.float32([0.0, 2.0])
    off = triangulate_flow(shifted, K, T)
    horizontal = good & (np.abs(off.speed) > 0) & (np.abs(_direction(off, flow, K, T)) > 0.99)
    assert np.median(off.epipolar_px[horizontal]) == pytest.approx(2.0, abs=0.05)


def _direction(off, flow, K, T) -> np.ndarray:
    """|cos| between the epipolar line and the image's x axis (where a vertical shift is
    entirely across the line)."""
    tri = triangulate_flow(flow + np.float32([0.01, 0.0]), K, T)
    return np.clip((tri.parallax_px - triangulate_flow(flow, K, T).parallax_px) / 0.01, -1, 1)


def test_filter_fuses_inliers_and_an_outlier_raises_the_variance_only() -> None:
    f = DepthFilter()
    shape = (4, 4)
    valid = np.ones(shape, bool)
    f.update(np.full(shape, 0.1, np.float32), np.full(shape, 1e-4, np.float32), valid)
    f.update(np.full(shape, 0.102, np.float32), np.full(shape, 1e-4, np.float32), valid)
    assert f.rho[0, 0] == pytest.approx(0.101, abs=1e-6)
    assert f.var[0, 0] == pytest.approx(0.5e-4, rel=1e-4)
    weak = np.full(shape, 1e-3, np.float32)  # a measurement 20x less certain than the belief
    outlier = f.update(np.full(shape, 0.5, np.float32), weak, valid)
    assert outlier.all()
    # the mean stays; the belief is weaker (x4)
    assert f.rho[0, 0] == pytest.approx(0.101, abs=1e-6)
    assert f.var[0, 0] == pytest.approx(2e-4, rel=1e-4)
    # the surface really changed: repeated contradictions replace the belief within frames
    for _ in range(3):
        f.update(np.full(shape, 0.5, np.float32), weak, valid)
    assert f.rho[0, 0] == pytest.approx(0.5)


def test_dense_flow_plain_calls_stay_plain_after_a_started_one(frames) -> None:
    """OpenCV's DIS keeps using a given starting field in later calls; ours must not."""
    a, b, c = (to_gray(frames[i].image) for i in range(3))
    fresh = DenseFlow().flow(a, b)
    flow = DenseFlow()
    flow.flow(b, c, initial=np.zeros((*c.shape, 2), np.float32) + 7.0)
    np.testing.assert_array_equal(flow.flow(a, b), fresh)


def test_fused_depth_beats_the_distorted_network_depth(frames) -> None:
    dfm = DepthFromMotion()
    network_err, fused_err = [], []
    for i, frame in enumerate(frames):
        depth = _network_depth(frame)
        out = dfm.step(to_gray(frame.image), frame.intrinsics, depth,
                       None if i == 0 else _motion(frames, i))
        assert out.depth.shape == depth.shape and out.sigma.shape == depth.shape
        if i == 0:  # nothing observed: exactly the network's depth
            np.testing.assert_array_equal(out.depth, depth)
            assert out.flow is None and out.reason == 'no previous frame'
            continue
        assert not np.isnan(out.depth[np.isfinite(depth)]).any()
        assert out.observed > 0.2
        network_err.append(depth_metrics(_truth(frame), depth)['abs_rel'])
        fused_err.append(depth_metrics(_truth(frame), out.depth)['abs_rel'])
        # static world: hardly anything is marked moving
        assert out.moving.mean() < 0.01
    assert np.mean(fused_err) < 0.6 * np.mean(network_err), (fused_err, network_err)
    assert dfm.counts['measured'] == len(frames) - 1


def test_fused_flow_is_close_to_the_truth(frames) -> None:
    dfm = DepthFromMotion()
    errors = []
    for i, frame in enumerate(frames):
        out = dfm.step(to_gray(frame.image), frame.intrinsics, _network_depth(frame),
                       None if i == 0 else _motion(frames, i))
        if i:
            valid = frame.flow_valid & np.isfinite(out.flow).all(-1)
            errors.append(np.median(np.linalg.norm(out.flow - frame.flow, axis=-1)[valid]))
    assert np.mean(errors) < 0.5


@pytest.mark.parametrize('case', ['standing', 'no texture', 'pure rotation', 'nan network',
                                  'size change', 'no motion'])
def test_degenerate_input_keeps_the_network_depth_and_publishes_no_nan(frames, case) -> None:
    dfm = DepthFromMotion()
    first = frames[0]
    depth0 = _network_depth(first)
    dfm.step(to_gray(first.image), first.intrinsics, depth0, None)
    frame, depth, T = frames[1], _network_depth(frames[1]), _motion(frames, 1)
    gray, K = to_gray(frame.image), frame.intrinsics
    if case == 'standing':
        gray, depth, T = to_gray(first.image), depth0, np.eye(4)
        out = dfm.step(gray, K, depth, T, standing=True)
    elif case == 'no texture':
        flat = np.full_like(gray, 128)
        dfm.reset()
        dfm.step(flat, K, depth0, None)
        out = dfm.step(flat, K, depth, T)
    elif case == 'pure rotation':
        T = np.eye(4)
        T[:3, :3] = cv2.Rodrigues(np.array([0.0, 0.02, 0.0]))[0]
        out = dfm.step(gray, K, depth, T)
    elif case == 'nan network':
        depth = np.full_like(depth, np.nan)
        out = dfm.step(gray, K, depth, T)
        assert np.isnan(out.depth).all()  # nothing to refine: the network's (invalid) depth
        return
    elif case == 'size change':
        small = cv2.resize(gray, (320, 96))
        depth = cv2.resize(depth, (320, 96), interpolation=cv2.INTER_NEAREST)
        out = dfm.step(small, K * np.array([[0.5], [0.5], [1]]), depth, T)
        assert out.reason == 'size change'
    else:
        out = dfm.step(gray, K, depth, np.full((4, 4), np.nan))
        assert out.reason == 'no motion'
    finite = np.isfinite(depth)
    assert np.isfinite(out.depth[finite]).all() and np.isfinite(out.sigma).all()
    if case in ('standing', 'no texture', 'size change', 'no motion'):
        np.testing.assert_allclose(out.depth[finite], depth[finite], rtol=1e-6)
    if case == 'pure rotation':  # a rotation measures no depth: at most a few stray pixels
        assert out.observed < 0.05


def test_sliced_intrinsics_are_made_contiguous() -> None:
    """K read from a 3x4 projection matrix is a strided view; OpenCV 5's findEssentialMat
    (USAC) gave no answer for it, and hybrid motion silently fell back on every frame."""
    P = np.array([[718.856, 0, 607.19, 45.0], [0, 718.856, 185.2, 0], [0, 0, 1, 0]])
    K = P[:3, :3]
    assert not K.flags.c_contiguous
    _, k, _ = validate_frame(np.zeros((16, 16), np.uint8), K, 0.0)
    assert k.flags.c_contiguous
    np.testing.assert_array_equal(k, K)


def test_prefetched_check_gives_the_same_frame(frames) -> None:
    """The consistency check's DIS field computed in a worker thread while the networks run
    (`prefetch`) gives exactly what the step computes in place."""
    plain, early = DepthFromMotion(), DepthFromMotion()
    for i, frame in enumerate(frames[:4]):
        gray, depth = to_gray(frame.image), _network_depth(frame)
        motion = None if i == 0 else _motion(frames, i)
        early.prefetch(gray, frame.intrinsics)
        a = plain.step(gray, frame.intrinsics, depth, motion)
        b = early.step(gray, frame.intrinsics, depth, motion)
        np.testing.assert_array_equal(a.depth, b.depth)
        if i:
            np.testing.assert_array_equal(a.flow, b.flow)
            np.testing.assert_array_equal(a.moving, b.moving)
    assert early._pending is None  # collected by the step


def test_estimator_time_jump_and_reset_clear_the_filter(tiny_weights, frames) -> None:
    """Through the Estimator: fused depth after a few frames; a time jump (and `reset`) start
    over: that frame's depth is exactly the network's, its confidence the prior's."""
    from rmdepth_ros.inference import Estimator

    est = Estimator(tiny_weights, device='cpu')
    assert est.depth_source == 'fused'
    for i, frame in enumerate(frames[:3]):
        out = est.process(frame.image, frame.intrinsics, 0.1 * i)
    assert out.geometry is not None and out.geometry.reason != 'no previous frame'
    jumped = est.process(frames[3].image, frames[3].intrinsics, 60.0)
    assert jumped.reset_reason is not None and jumped.geometry.reason == 'no previous frame'
    np.testing.assert_array_equal(jumped.depth, jumped.network_depth)
    assert np.all(jumped.confidence == np.float32(0.35))
    est.process(frames[4].image, frames[4].intrinsics, 60.1)
    est.reset()
    again = est.process(frames[5].image, frames[5].intrinsics, 60.2)
    np.testing.assert_array_equal(again.depth, again.network_depth)
    assert est.geometry_counts['no previous frame'] == 3
