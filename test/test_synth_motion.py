"""Synthetic camera motion styles (SynthConfig.motion): each does what it claims, stays over
its lane, is deterministic, and 'drive' is untouched."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest

from rmdepth_ros.synth.agile import LANE_SLACK, STYLES, WEIGHTS, AgilePath
from rmdepth_ros.synth.config import MOTIONS
from rmdepth_ros.synth.motion import CameraPath
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

SMALL = SynthConfig(width=96, height=32, frames=30)


def _path(motion: str, seed: int, frames: int = 30):
    """The camera path only (building a sequence renders nothing)."""
    return SyntheticSequence(dataclasses.replace(SMALL, motion=motion, seed=seed,
                                                 frames=frames)).path


def _relative(poses: np.ndarray) -> np.ndarray:
    """(n - 1, 4, 4) pose of each frame in the previous camera's frame."""
    return np.linalg.inv(poses[:-1]) @ poses[1:]


def _yaw_deg(rel: np.ndarray) -> np.ndarray:
    """Yaw of relative rotations about the camera's y (down) axis, degrees (+ = to the right)."""
    return np.degrees(np.arctan2(rel[:, 0, 2], rel[:, 2, 2]))


def test_motion_names_match_the_styles():
    assert set(MOTIONS) == {'drive', 'diverse'} | set(STYLES)
    assert len(WEIGHTS) == len(STYLES) and math.isclose(sum(WEIGHTS), 1.0)
    with pytest.raises(ValueError, match='motion must be one of'):
        SynthConfig(motion='spin')


def test_drive_is_the_plain_path():
    path = _path('drive', 4)
    assert type(path) is CameraPath and path.style == 'drive' and not path.looks_back.any()
    default = SyntheticSequence(dataclasses.replace(SMALL, seed=4)).path
    np.testing.assert_array_equal(default.poses, path.poses)


def test_static_camera_does_not_move_while_traffic_does():
    for seed in range(3):
        rel = _relative(_path('static', seed).poses)
        np.testing.assert_allclose(rel, np.broadcast_to(np.eye(4), rel.shape), atol=1e-12)
    seq = SyntheticSequence(dataclasses.replace(SMALL, motion='static', seed=1, width=160,
                                                height=48, moving_cars_per_100m=20.0))
    frames = [seq[i] for i in range(1, 8)]
    np.testing.assert_allclose(frames[-1].pose, np.eye(4), atol=1e-12)
    moving = sum(int((f.motion_mask & f.flow_valid).sum()) for f in frames)
    assert moving > 0, 'a standing camera must still see moving traffic'
    for f in frames:  # static pixels have zero flow
        still = f.flow_valid & ~f.motion_mask
        assert np.abs(f.flow[still]).max() < 1e-3


def test_reverse_moves_backwards():
    for seed in range(4):
        rel = _relative(_path('reverse', seed).poses)
        assert (rel[:, 2, 3] < -0.05).all()


def test_turns_are_fast_and_of_both_signs():
    signs = set()
    for seed in range(10):
        yaw = _yaw_deg(_relative(_path('turn', seed).poses))
        assert np.abs(yaw).mean() > 2.5, f'seed {seed}: mean |yaw rate| {np.abs(yaw).mean()}'
        assert np.all(np.sign(yaw) == np.sign(yaw[0]))
        signs.add(float(np.sign(yaw[0])))
    assert signs == {-1.0, 1.0}
    top = max(np.abs(_yaw_deg(_relative(_path('turn', s).poses))).max() for s in range(10))
    assert top > 10.0  # up to 15 deg a frame at 10 Hz
    # Some turn on the spot.
    assert any(np.abs(_relative(_path('turn', s).poses)[:, :3, 3]).max() < 1e-9
               for s in range(10))


def test_stop_and_go_reaches_standstill_and_speed():
    stops = 0
    for seed in range(6):
        speed = _path('stop_go', seed, frames=80).speed
        assert speed.min() >= 0.0 and speed.max() > 2.0
        stops += speed.min() < 0.05
    assert stops >= 2


def test_sideways_and_handheld_move_sideways_and_shake():
    sideways = [np.abs(_relative(_path('sideways', s).poses)[:, 0, 3]).mean() for s in range(4)]
    assert min(sideways) > 0.05  # metres a frame across the optical axis
    for seed in range(3):
        rel = _relative(_path('handheld', seed).poses)
        assert np.abs(rel[:, :3, 3]).max() < 0.5  # walking pace
        # Shake: the pitch rate changes sign often (a few Hz at 10 fps).
        pitch = np.arctan2(-rel[:, 1, 2], rel[:, 2, 2])
        assert np.count_nonzero(np.diff(np.sign(pitch))) >= 4


@pytest.mark.parametrize('seed', range(6))
def test_corner_moves_along_its_own_heading_while_turning(seed):
    # Vehicle-like: the camera turns (yaw rates of degrees a frame) and its displacement points
    # where the camera looks, in the ground plane, as a car's camera does in a turn.
    poses = _path('corner', seed, frames=40).poses
    step = np.diff(poses[:, :3, 3], axis=0)[:, [0, 2]]  # world x, z
    look = 0.5 * (poses[:-1, :3, 2] + poses[1:, :3, 2])[:, [0, 2]]  # camera z at midpoints
    moving = np.linalg.norm(step, axis=1) > 0.05
    assert moving.mean() > 0.9
    cosine = (step * look).sum(1) / np.linalg.norm(step, axis=1) / np.linalg.norm(look, axis=1)
    assert np.degrees(np.arccos(np.clip(cosine[moving], -1, 1))).max() < 2.0
    yaw = np.degrees(np.arctan2(poses[:, 0, 2], poses[:, 2, 2]))
    assert np.abs(np.diff(yaw)).max() > 0.5  # it does turn
    assert np.ptp(yaw) > 5.0


@pytest.mark.parametrize('seed', range(0, 40, 3))
def test_diverse_stays_over_its_lane_at_camera_height(seed):
    path = _path('diverse', seed, frames=60)
    if isinstance(path, AgilePath):
        x, y, z = path.poses[:, 0, 3], path.poses[:, 1, 3], path.poses[:, 2, 3]
        _, d = path.road.road_coords(x.astype(np.float32), z.astype(np.float32), (0.0, 0.0, 0.0),
                                     (path.s.min() - 5.0, path.s.max() + 5.0))
        assert np.abs(d - 1.75).max() < LANE_SLACK + 0.05  # lane 0 centre, 3.5 m lanes
        assert np.abs(y).max() < 0.05  # height above the ground: camera_height +- shake
        up = path.poses[:, :3, 1]  # the camera's down axis in the road world
        assert np.degrees(np.arccos(up[:, 1])).max() < 12.0  # pitch / roll of a few degrees


def test_diverse_draws_every_style_and_matches_the_named_style():
    drawn = [_path('diverse', seed, frames=3).style for seed in range(80)]
    assert set(drawn) == set(STYLES)
    for seed in range(6):
        if drawn[seed] != 'drive':
            np.testing.assert_array_equal(_path('diverse', seed).poses,
                                          _path(drawn[seed], seed).poses)
    tilt = max(np.degrees(np.abs(np.arcsin(_path('diverse', s).poses[:, 1, 2]))).max()
               for s in range(20))
    assert tilt > 3.0  # pitch of several degrees occurs


def test_deterministic_and_longer_extends_shorter():
    for motion in ('turn', 'handheld', 'stop_go'):
        a, b = _path(motion, 7, frames=12), _path(motion, 7, frames=40)
        np.testing.assert_array_equal(a.poses, b.poses[:12])
        assert not np.array_equal(_path(motion, 8).poses, _path(motion, 7).poses)
    cfg = dataclasses.replace(SMALL, motion='turn', seed=2, frames=12)
    one, two = SyntheticSequence(cfg)[9], SyntheticSequence(cfg)[9]
    np.testing.assert_array_equal(one.image, two.image)
    np.testing.assert_array_equal(one.flow, two.flow)


@pytest.mark.parametrize('motion', ['turn', 'handheld', 'sideways'])
def test_flow_warps_the_previous_frame_under_diverse_motion(motion):
    """The ground truth stays consistent when the camera turns or looks back along the road."""
    seq = SyntheticSequence(SynthConfig(width=160, height=48, frames=12, seed=1, motion=motion))
    gx, gy = np.meshgrid(np.arange(160, dtype=np.float32), np.arange(48, dtype=np.float32))
    for t in (3, 11):
        prev, cur = seq[t - 1], seq[t]
        assert np.nanmin(cur.depth) > 1.0 and np.isfinite(cur.image).all()
        warped = cv2.remap(prev.image.astype(np.float32), gx - cur.flow[..., 0],
                           gy - cur.flow[..., 1], cv2.INTER_LINEAR)
        valid = cur.flow_valid
        error = np.abs(warped - cur.image).mean(-1)[valid].mean()
        still = np.abs(prev.image.astype(np.float32) - cur.image).mean(-1)[valid].mean()
        assert valid.mean() > 0.4 and error * 1.5 < still and error < 4.0  # of 255


def test_cli_writes_the_chosen_motion(tmp_path):
    from rmdepth_ros.synth.cli import main

    out = tmp_path / 'seq'
    assert main(['--out', str(out), '--frames', '3', '--seed', '2', '--size', '64x32',
                 '--motion', 'reverse']) == 0
    poses = np.loadtxt(out / 'poses.txt').reshape(3, 3, 4)
    assert poses[2, 2, 3] < poses[1, 2, 3] < -0.05  # backwards along the optical axis
