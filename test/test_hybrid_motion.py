"""The hybrid motion source: image geometry + the network's depth for scale (rmdepth_ros.motion).

Synthetic street frames with exact depth and poses stand in for the network: the 'network depth'
is the true depth times a model-unit factor, the 'network motion' a perturbed true motion, so
the recovered motion can be checked against the truth, scale included.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rmdepth_ros.evaluation.metrics import motion_errors
from rmdepth_ros.motion.hybrid import HybridMotion, HybridOptions
from rmdepth_ros.motion.two_view import to_gray
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence
from rmdepth_ros.visual_odometry import OdometryIntegrator

UNITS = 0.7  # model units per metre of the stand-in network depth


@pytest.fixture(scope='module')
def frames() -> list:
    config = SynthConfig(width=640, height=192, frames=4, seed=11, moving_cars_per_100m=0.0,
                         pedestrians_per_100m=0.0)
    return list(SyntheticSequence(config))


def _truth(frames: list, i: int) -> np.ndarray:
    return np.linalg.inv(frames[i - 1].pose) @ frames[i].pose


def _depth(frame) -> np.ndarray:
    depth = frame.depth.astype(np.float32) * UNITS
    depth[~np.isfinite(depth)] = np.nan
    return depth


def _rot_y(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _run(frames: list, prior_of, options: HybridOptions | None = None, moving=None):
    hybrid = HybridMotion(options or HybridOptions())
    results = []
    for i, frame in enumerate(frames):
        prior = None if i == 0 else prior_of(i)
        results.append(hybrid.step(to_gray(frame.image), frame.intrinsics, _depth(frame),
                                   prior, moving))
    return hybrid, results


def test_recovers_rotation_direction_and_scale_from_depth(frames) -> None:
    def noisy_prior(i: int) -> np.ndarray:  # right rotation, direction 3 deg off, length 1.5x
        prior = _truth(frames, i).copy()
        prior[:3, 3] = _rot_y(3.0) @ prior[:3, 3] * UNITS * 1.5
        return prior

    hybrid, results = _run(frames, noisy_prior, HybridOptions(scale_smoothing=0.0,
                                                              direction_smoothing=0.0))
    assert results[0] is None  # first frame: nothing to compare with
    for i, result in enumerate(results[1:], start=1):
        truth = _truth(frames, i)
        errors = motion_errors(result.motion, truth)
        assert result.source == 'geometry' and result.inliers >= 100
        assert errors['rot_err_deg'] < 0.05 and errors['trans_dir_err_deg'] < 1.0
        length = np.linalg.norm(result.motion[:3, 3]) / np.linalg.norm(truth[:3, 3])
        # the depth's scale (to a few per cent: corners sit on depth edges), not the prior's
        assert length == pytest.approx(UNITS, rel=0.05)
        assert np.all(result.sigma_translation > 0) and 0 < result.sigma_rotation < 1e-3
    assert hybrid.counts == {'geometry': len(frames) - 1}


def test_prior_that_disagrees_is_counted_and_used_at_the_measured_length(frames) -> None:
    def prior_of(i: int) -> np.ndarray:
        prior = _truth(frames, i).copy()
        prior[:3, 3] *= UNITS
        if i == 3:  # the network turns 3 degrees where the images say it did not
            prior[:3, :3] = prior[:3, :3] @ _rot_y(3.0)
        return prior

    # 3 degrees explain the tracks far worse than the geometry: the network is overruled
    hybrid, results = _run(frames, prior_of, HybridOptions(scale_smoothing=0.0))
    assert [r.source for r in results[1:]] == ['geometry'] * 3
    assert hybrid.counts['network overruled'] == 1
    # a network never overruled (huge residual allowance) is the fallback, at the length
    hybrid, results = _run(frames, prior_of, HybridOptions(scale_smoothing=0.0,
                                                           prior_residual_px=1e9))
    assert [r.source for r in results[1:]] == ['geometry', 'geometry', 'network']
    assert results[3].reason == 'disagrees with network'
    assert hybrid.counts['disagrees with network'] == 1
    np.testing.assert_allclose(results[3].motion[:3, :3], prior_of(3)[:3, :3])
    assert np.linalg.norm(results[3].motion[:3, 3]) == pytest.approx(
        np.linalg.norm(results[2].motion[:3, 3]))


def test_standing_camera_gives_the_identity(frames) -> None:
    still = [frames[1]] * 3
    prior = np.eye(4)
    prior[2, 3] = 0.3  # a network that thinks the camera moves
    hybrid, results = _run(still, lambda i: prior)
    for result in results[1:]:
        assert result.source == 'standing'
        np.testing.assert_array_equal(result.motion, np.eye(4))
    assert hybrid.counts == {'standing': 2}


def test_pure_rotation_keeps_the_images_rotation_and_the_networks_translation(frames) -> None:
    frame = frames[1]
    K = frame.intrinsics
    R = _rot_y(1.0)  # X_cur = R X_prev: the camera turned, did not move
    turned = cv2.warpPerspective(frame.image, K @ R @ np.linalg.inv(K),
                                 (frame.image.shape[1], frame.image.shape[0]))
    prior = np.eye(4)
    prior[:3, 3] = [0.0, 0.0, 0.05]
    hybrid = HybridMotion()
    hybrid.step(to_gray(frame.image), K, _depth(frame), None)
    result = hybrid.step(to_gray(turned), K, _depth(frame), prior)
    assert (result.source, result.reason) == ('network', 'pure rotation')
    np.testing.assert_allclose(result.motion[:3, :3], R.T, atol=2e-4)
    np.testing.assert_array_equal(result.motion[:3, 3], prior[:3, 3])


def test_low_texture_falls_back_and_masked_tracks_are_dropped(frames) -> None:
    flat = [np.full((192, 640, 3), 128, np.uint8)] * 2
    hybrid = HybridMotion()
    prior = _truth(frames, 1)
    for image in flat:
        result = hybrid.step(to_gray(image), frames[0].intrinsics, _depth(frames[0]), prior)
    assert (result.source, result.reason) == ('network', 'few tracks')
    np.testing.assert_array_equal(result.motion, prior)
    # the right 45 % marked moving: no track starts or ends there
    moving = np.zeros((192, 640), bool)
    moving[:, 352:] = True
    everywhere = _run(frames[:2], lambda i: prior)[1][1].tracks
    hybrid, results = _run(frames[:2], lambda i: prior, moving=moving)
    assert 40 <= results[1].tracks < 0.7 * everywhere
    # a mask over everything is not trusted
    hybrid, results = _run(frames[:2], lambda i: prior, moving=np.ones((192, 640), bool))
    assert results[1].source == 'geometry'


def test_odometry_takes_the_geometrys_errors() -> None:
    step = np.eye(4)
    step[2, 3] = 1.0
    model, geometric = OdometryIntegrator(), OdometryIntegrator()
    for stamp in (0.0, 0.1):
        a = model.update(step, stamp)
        b = geometric.update(step, stamp, motion_sigma=(np.array([0.01, 0.02, 0.03]), 1e-3))
    np.testing.assert_allclose(b.pose_variance, [1e-4 + 4e-8, 4e-4 + 4e-8, 9e-4 + 4e-8,
                                                 1e-6, 1e-6, 1e-6])
    assert not np.allclose(a.pose_variance, b.pose_variance)


# -- the estimator's motion_source ------------------------------------------------------------

def test_estimator_hybrid_source(tiny_weights, frames) -> None:
    from rmdepth_ros.inference import Estimator

    with pytest.raises(ValueError, match='motion_source'):
        Estimator(tiny_weights, device='cpu', motion_source='imu')
    # the networks' flow and masks (depth_source 'network'), to compare the motion sources alone
    network = Estimator(tiny_weights, device='cpu', resize='stretch', motion_source='network',
                        depth_source='network')
    hybrid = Estimator(tiny_weights, device='cpu', resize='stretch', depth_source='network')
    # the default: hybrid measured better on KITTI 00 (docs/camera_motion.md)
    assert network.motion_counts == {} and hybrid.motion_source == 'hybrid'
    for i, frame in enumerate(frames):
        # frame 1 is depth only: it must still become the tracks' previous frame
        a = network.process(frame.image, frame.intrinsics, frame.timestamp, compute_motion=i != 1)
        b = hybrid.process(frame.image, frame.intrinsics, frame.timestamp, compute_motion=i != 1)
        if i in (0, 1):
            assert b.motion is None and b.motion_info is None
            continue
        np.testing.assert_allclose(b.network_motion, a.motion, atol=1e-5)
        np.testing.assert_array_equal(a.network_motion, a.motion)
        assert b.motion_info is not None
        assert b.motion_info.reason in (None, 'disagrees with network')
        if b.motion_info.source == 'geometry':
            # the random network's motion is not the images'
            assert not np.allclose(b.motion, b.network_motion)
        # flow, masks and object motion stay the network's (KITTI 00: its flow is better)
        np.testing.assert_allclose(np.nan_to_num(b.flow), np.nan_to_num(a.flow), atol=1e-4)
        np.testing.assert_array_equal(b.motion_mask, a.motion_mask)
    counts = hybrid.motion_counts
    assert sum(counts.values()) - counts.get('network overruled', 0) == len(frames) - 2
    hybrid.reset()
    out = hybrid.process(frames[0].image, frames[0].intrinsics, frames[-1].timestamp + 0.1)
    assert out.motion is None and out.motion_info is None


def test_estimator_says_once_when_hybrid_motion_falls_back_frame_after_frame(tiny_weights
                                                                            ) -> None:
    """A camera whose images give no tracks (flat grey) falls back on every frame: the counters
    say so per frame, and the estimator says it once, in words."""
    from rmdepth_ros.inference import Estimator

    lines: list[str] = []
    estimator = Estimator(tiny_weights, device='cpu', log=lines.append, depth_source='network')
    flat = np.full((48, 64, 3), 128, np.uint8)
    K = np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])
    for i in range(25):
        out = estimator.process(flat, K, 0.1 * i)
    assert out.motion_info.reason == 'few tracks'
    assert estimator.motion_counts['few tracks'] == 24
    warnings = [line for line in lines if 'fell back' in line]
    assert len(warnings) == 1 and 'few tracks' in warnings[0]
