"""Synthetic street world: ground-truth consistency, determinism, config and CLI."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from rmdepth_ros.synth.cli import main
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

SMALL = SynthConfig(width=320, height=96, frames=12, seed=3)


@pytest.fixture(scope='module', params=['classic', 'photo'])
def look(request):
    """Ground truth must be exact in both looks of the world."""
    return request.param


@pytest.fixture(scope='module')
def frames(look):
    """The frames of SMALL in `look`, generated once. The photo look's per-frame sensor noise
    and JPEG artefacts are switched off so that warped images can be compared."""
    sequence = SyntheticSequence(dataclasses.replace(SMALL, look=look))
    if look == 'photo':
        sequence.camera = dataclasses.replace(sequence.camera, noise=0.0, jpeg=0)
    return list(sequence)


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


def _project(points: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(..., 3) camera points -> (..., 2) pixels."""
    return np.stack([k[0, 0] * points[..., 0] / points[..., 2] + k[0, 2],
                     k[1, 1] * points[..., 1] / points[..., 2] + k[1, 2]], -1)


def test_frame_contents(frames):
    h, w = SMALL.height, SMALL.width
    assert len(frames) == SMALL.frames
    first = frames[0]
    assert first.image.shape == (h, w, 3) and first.image.dtype == np.uint8
    assert first.depth.shape == (h, w) and first.depth.dtype == np.float32
    np.testing.assert_array_equal(first.pose, np.eye(4))
    assert first.flow is None and first.flow_valid is None and first.object_motion is None
    assert first.motion_mask.shape == (h, w) and first.motion_mask.dtype == bool
    k = first.intrinsics
    np.testing.assert_allclose(k, [[0.58 * w, 0, w / 2 - 0.5], [0, 1.92 * h, h / 2 - 0.5],
                                   [0, 0, 1]])
    for i, f in enumerate(frames[1:], 1):
        assert f.index == i and f.timestamp == pytest.approx(i / SMALL.fps)
        assert f.flow.shape == (h, w, 2) and f.flow.dtype == np.float32
        assert f.flow_valid.dtype == bool and f.object_motion.shape == (h, w, 3)
        rot = f.pose[:3, :3]
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-9)
    # The camera drives forward along its optical axis at a plausible speed.
    travel = frames[-1].pose[:3, 3] - frames[0].pose[:3, 3]
    speed = np.linalg.norm(travel) * SMALL.fps / (SMALL.frames - 1)
    assert SMALL.min_speed * 0.9 < speed < SMALL.max_speed * 1.1
    assert travel[2] > 0.9 * np.linalg.norm(travel)


def test_warp_with_flow_reproduces_next_frame(frames):
    """Sampling frame t-1 at x - flow reproduces frame t, also on a moving object."""
    gx, gy = _grid(SMALL.width, SMALL.height)
    moving_pixels = [(f.motion_mask & f.flow_valid).sum() for f in frames[1:]]
    t = 1 + int(np.argmax(moving_pixels))
    assert moving_pixels[t - 1] > 300, 'the test pair must contain a moving object'
    prev, cur = frames[t - 1].image.astype(np.float32), frames[t].image.astype(np.float32)
    flow = frames[t].flow
    warped = cv2.remap(prev, gx - flow[..., 0], gy - flow[..., 1], cv2.INTER_LINEAR)
    valid = frames[t].flow_valid
    error = np.abs(warped - cur).mean(-1)
    zero_motion = np.abs(prev - cur).mean(-1)
    assert valid.mean() > 0.6
    assert error[valid].mean() * 4 < zero_motion[valid].mean()
    moving = valid & frames[t].motion_mask
    assert error[moving].mean() * 3 < zero_motion[moving].mean()
    # Invalid pixels (disocclusions, newly in view) do not warp well: they are rightly flagged.
    assert error[~valid].mean() > error[valid].mean()


def test_flow_matches_depth_and_poses_on_static_pixels(frames):
    """Static flow = projection of depth_t through inv(pose_{t-1}) @ pose_t."""
    gx, gy = _grid(SMALL.width, SMALL.height)
    for t in (1, 6, 11):
        f, prev = frames[t], frames[t - 1]
        k = f.intrinsics
        static = ~f.motion_mask & np.isfinite(f.depth)
        z = np.where(static, f.depth, 1.0).astype(np.float64)
        points = np.stack([(gx - k[0, 2]) / k[0, 0] * z, (gy - k[1, 2]) / k[1, 1] * z, z], -1)
        prev_from_cur = np.linalg.inv(prev.pose) @ f.pose
        moved = points @ prev_from_cur[:3, :3].T + prev_from_cur[:3, 3]
        expected = np.stack([gx, gy], -1) - _project(moved, k)
        np.testing.assert_allclose(f.flow[static], expected[static], atol=2e-3)
        # Valid points were in view of the previous camera.
        p = np.stack([gx, gy], -1)[f.flow_valid] - f.flow[f.flow_valid]
        assert (p >= -1e-3).all() and (p[:, 0] <= SMALL.width - 1 + 1e-3).all()
        assert (p[:, 1] <= SMALL.height - 1 + 1e-3).all()
        # Driving forward, the static scene expands from the image centre (flow sign).
        third = SMALL.width // 3
        lower = static[SMALL.height // 2:]
        assert f.flow[SMALL.height // 2:, :third, 0][lower[:, :third]].mean() < -0.1
        assert f.flow[SMALL.height // 2:, -third:, 0][lower[:, -third:]].mean() > 0.1
        assert f.flow[-1, :, 1][static[-1]].mean() > 0.1  # the ground near the bottom moves down


def test_object_motion_matches_mask_and_flow(frames):
    gx, gy = _grid(SMALL.width, SMALL.height)
    seen_moving = 0
    for t in range(1, len(frames)):
        f, prev = frames[t], frames[t - 1]
        mask = f.motion_mask
        assert (f.object_motion[~mask] == 0).all()
        if not mask.any():
            continue
        seen_moving += mask.sum()
        assert (np.linalg.norm(f.object_motion[mask], axis=-1) > 0.02).all()
        # The point's previous position, P - object_motion in the current camera, seen by the
        # previous camera, is where the flow says it was.
        k = f.intrinsics
        z = f.depth[mask].astype(np.float64)
        now = np.stack([(gx[mask] - k[0, 2]) / k[0, 0] * z, (gy[mask] - k[1, 2]) / k[1, 1] * z,
                        z], -1)
        before = now - f.object_motion[mask]
        prev_from_cur = np.linalg.inv(prev.pose) @ f.pose
        expected = _project(before @ prev_from_cur[:3, :3].T + prev_from_cur[:3, 3], k)
        found = np.stack([gx[mask], gy[mask]], -1) - f.flow[mask]
        np.testing.assert_allclose(found, expected, atol=0.02)
    assert seen_moving > 0


def test_validity_follows_visibility_in_the_previous_frame(frames):
    """Valid points are what the previous frame saw there; invalid in-view points are hidden."""
    w, h = SMALL.width, SMALL.height
    gx, gy = _grid(w, h)
    for t in (3, 8, 11):
        f, prev = frames[t], frames[t - 1]
        k = f.intrinsics
        solid = np.isfinite(f.depth)
        z = np.where(solid, f.depth, 1.0)
        now = np.stack([(gx - k[0, 2]) / k[0, 0] * z, (gy - k[1, 2]) / k[1, 1] * z, z], -1)
        prev_from_cur = np.linalg.inv(prev.pose) @ f.pose
        before = (now - f.object_motion) @ prev_from_cur[:3, :3].T + prev_from_cur[:3, 3]
        src = np.stack([gx, gy], -1) - f.flow
        in_view = solid & (src[..., 0] >= 0) & (src[..., 0] <= w - 1) & (src[..., 1] >= 0) \
            & (src[..., 1] <= h - 1)
        x0 = np.clip(np.floor(src[..., 0]), 0, w - 2).astype(int)
        y0 = np.clip(np.floor(src[..., 1]), 0, h - 2).astype(int)
        near = prev.depth[np.clip(np.round(src[..., 1]).astype(int), 0, h - 1),
                          np.clip(np.round(src[..., 0]).astype(int), 0, w - 1)]
        ratio = near / before[..., 2]
        valid = f.flow_valid & solid
        assert (np.abs(ratio[valid] - 1) < 0.05).mean() > 0.97
        closest = np.minimum.reduce([prev.depth[y0 + dy, x0 + dx] for dy in (0, 1)
                                     for dx in (0, 1)])
        hidden = ~f.flow_valid & in_view
        assert hidden.sum() > 50
        assert (closest[hidden] < 0.97 * before[..., 2][hidden]).mean() > 0.8


def test_sky_is_infinite_and_above_the_horizon(frames, look):
    h = SMALL.height
    for f in frames:
        sky = np.isinf(f.depth)
        assert not np.isnan(f.depth).any() and (f.depth > 0).all()
        assert (f.depth[sky] > 0).all()  # +inf, never -inf
        assert sky[: h // 8].any(), 'some sky in the top rows'
        assert not sky[int(h * 0.6):].any(), 'no sky below the horizon'
        if look == 'photo':
            continue  # a photo panorama
        # The classic sky is one smooth gradient: no texture.
        gray = cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        inner = cv2.erode(sky.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert np.abs(cv2.Laplacian(gray, cv2.CV_32F))[inner].mean() < 1.0


def test_surfaces_are_textured(frames):
    """A photometric loss needs signal everywhere but the sky."""
    for f in frames[::4]:
        gray = cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        mean = cv2.blur(gray, (5, 5))
        std = np.sqrt(np.maximum(cv2.blur(gray * gray, (5, 5)) - mean * mean, 0))
        solid = np.isfinite(f.depth)
        assert (std[solid] < 0.5).mean() < 0.1
        grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        assert grad[solid].mean() / 8 > 3.0
        # Near the camera there is ground and, beyond it, objects: depth varies widely.
        assert np.nanmin(f.depth) < 10 and np.nanmax(f.depth[solid]) > 50


def test_deterministic_in_any_order_and_seed_dependent(frames, look):
    if look == 'photo':
        pytest.skip('the photo look (noise included) is checked in test_synth_photo.py')
    again = SyntheticSequence(SMALL)
    for t in (7, 2):  # random access, not in order
        f = again[t]
        np.testing.assert_array_equal(f.image, frames[t].image)
        np.testing.assert_array_equal(f.depth, frames[t].depth)
        np.testing.assert_array_equal(f.flow, frames[t].flow)
        np.testing.assert_array_equal(f.flow_valid, frames[t].flow_valid)
        np.testing.assert_array_equal(f.pose, frames[t].pose)
    assert again[-1].index == SMALL.frames - 1
    with pytest.raises(IndexError):
        again[SMALL.frames]
    # A longer sequence starts with the frames of a shorter one.
    longer = SyntheticSequence(dataclasses.replace(SMALL, frames=30))
    np.testing.assert_array_equal(longer[3].image, frames[3].image)
    other = SyntheticSequence(dataclasses.replace(SMALL, seed=4))
    assert np.abs(other[3].image.astype(int) - frames[3].image).mean() > 10
    assert not np.allclose(other[3].pose, frames[3].pose)


def test_lighting_varies_between_sequences_not_frames():
    def mean_sky(seed):
        seq = SyntheticSequence(SynthConfig(width=64, height=32, frames=8, seed=seed))
        return [seq[i].image[np.isinf(seq[i].depth)].mean(0) for i in (0, 7)]
    a0, a7 = mean_sky(1)
    b0, _ = mean_sky(2)
    assert np.abs(a0 - a7).max() < 6.0  # sky colour is fixed within a sequence
    assert np.abs(a0 - b0).max() > 2.0


@pytest.mark.filterwarnings('error')
def test_no_numpy_warnings_at_odd_sizes():
    for width, height in ((17, 16), (1242, 375)):
        seq = SyntheticSequence(SynthConfig(width=width, height=height, frames=3, seed=9,
                                            curviness=1.0))
        for f in (seq[2], seq[0]):
            assert f.image.shape == (height, width, 3)


def test_no_moving_objects_when_disabled():
    config = SynthConfig(width=64, height=32, frames=3, moving_cars_per_100m=0,
                         pedestrians_per_100m=0)
    for f in SyntheticSequence(config):
        assert not f.motion_mask.any()


@pytest.mark.parametrize('field, value', [
    ('width', 8), ('frames', 0), ('fps', 0.0), ('min_speed', 20.0), ('lanes_per_direction', 3),
    ('fx', -1.0), ('curviness', 1.5), ('camera_height', float('nan')), ('seed', -1),
    ('pedestrians_per_100m', -1.0),
])
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field.split('_')[0]):
        SynthConfig(**{field: value})


def test_cli_folder_format(tmp_path):
    out = tmp_path / 'seq'
    assert main(['--out', str(out), '--frames', '3', '--seed', '5', '--size', '64x32']) == 0
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['frames'] == 3 and (meta['width'], meta['height']) == (64, 32)
    assert meta['config']['seed'] == 5
    for i in range(3):
        assert (out / 'image' / f'{i:06d}.png').is_file()
        assert (out / 'motion_mask' / f'{i:06d}.png').is_file()
        assert (out / 'depth' / f'{i:06d}.npy').is_file()
    assert sorted(p.name for p in (out / 'flow').iterdir()) == ['000001.npy', '000002.npy']
    assert len(list((out / 'flow_valid').iterdir())) == 2
    assert len(list((out / 'object_motion').iterdir())) == 2
    poses = np.loadtxt(out / 'poses.txt')
    assert poses.shape == (3, 12)
    np.testing.assert_allclose(poses[0], np.eye(4)[:3].ravel())
    np.testing.assert_allclose(np.loadtxt(out / 'intrinsics.txt'),
                               SynthConfig(width=64, height=32).intrinsics)
    np.testing.assert_allclose(np.loadtxt(out / 'timestamps.txt'), [0.0, 0.1, 0.2])
    # The files hold the sequence's frames.
    frame = SyntheticSequence(SynthConfig(width=64, height=32, frames=3, seed=5))[2]
    image = cv2.imread(str(out / 'image' / '000002.png'))[..., ::-1]
    np.testing.assert_array_equal(image, frame.image)
    np.testing.assert_array_equal(np.load(out / 'depth' / '000002.npy'), frame.depth)
    np.testing.assert_array_equal(np.load(out / 'flow' / '000002.npy'), frame.flow)
    mask = cv2.imread(str(out / 'flow_valid' / '000002.png'), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(mask > 0, frame.flow_valid)


@pytest.mark.parametrize('args, message', [
    (['--size', '64by32'], 'WIDTHxHEIGHT'),
    (['--frames', '0'], 'at least 1'),
    (['--fps', '-2'], 'fps'),
    (['--format', 'avi'], 'invalid choice'),
])
def test_cli_bad_arguments(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(['--out', str(tmp_path / 'x')] + args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err


def test_cli_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    with pytest.raises(SystemExit) as exit_info:
        main(['--out', str(blocker / 'seq'), '--frames', '1'])
    assert exit_info.value.code == 2
    assert 'cannot write' in capsys.readouterr().err
    used = tmp_path / 'used'
    used.mkdir()
    (used / 'old.txt').write_text('earlier run')
    with pytest.raises(SystemExit):
        main(['--out', str(used), '--frames', '1'])
    assert 'not empty' in capsys.readouterr().err


def test_cli_bag_format(tmp_path):
    pytest.importorskip('rosbags')
    out = tmp_path / 'bag'
    assert main(['--out', str(out), '--frames', '2', '--size', '32x16', '--format',
                 'mcap']) == 0
    assert (out / 'metadata.yaml').is_file()
    from rmdepth_ros.bags.reader import BagSequence
    from rmdepth_ros.bags.writer import SYNTHETIC_START

    stamps = [frame.timestamp for frame in BagSequence(out)]  # not 0: tf2 reads 0 as "latest"
    assert stamps == pytest.approx([SYNTHETIC_START, SYNTHETIC_START + 0.1], abs=1e-6)
    with pytest.raises(SystemExit):  # never overwrites
        main(['--out', str(out), '--frames', '2', '--size', '32x16', '--format', 'mcap'])
