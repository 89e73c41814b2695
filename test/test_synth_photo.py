"""The synthetic world's 'photo' look: textures, cast shadows, camera effects, determinism.

Its ground truth is checked with the classic look's in test_synthetic.py (parametrised).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from rmdepth_ros.synth import photo
from rmdepth_ros.synth.camera import CameraLook
from rmdepth_ros.synth.motion import rot_y
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence
from rmdepth_ros.synth.shadow import ground_shadow

PHOTO = SynthConfig(width=160, height=48, frames=6, seed=11, look='photo')


def _frames(config: SynthConfig, order) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        sequence = SyntheticSequence(config)
        return [sequence[i] for i in order]


def test_library_holds_every_material_and_sky():
    lib = photo.library()
    for group in ('facade', 'asphalt', 'paving', 'verge', 'bark', 'leaves'):
        assert lib.groups[group], group
    assert len(lib.skies) >= 10
    assert (photo.ASSETS / 'NOTICE').is_file()
    # Trilinear sampling fades to the tile's mean colour for huge footprints.
    tile = np.full(4, lib.groups['facade'][0])
    u = np.linspace(0.0, 3.0, 4).astype(np.float32)
    far = photo.sample(tile, u, u, np.full(4, 1e3, np.float32))
    np.testing.assert_allclose(far, np.repeat(lib.mean[tile[:1]].T, 4, 1), atol=1e-5)
    near = photo.sample(tile, u, u, np.full(4, 1e-3, np.float32))
    assert np.abs(near - far).max() > 0.01  # detail up close


def test_photo_frames_are_deterministic_in_any_order():
    forward = _frames(PHOTO, range(6))
    backward = _frames(PHOTO, [5, 2])
    for got, want in zip(backward, (forward[5], forward[2]), strict=True):
        np.testing.assert_array_equal(got.image, want.image)
        np.testing.assert_array_equal(got.depth, want.depth)
        np.testing.assert_array_equal(got.flow, want.flow)
    other = _frames(dataclasses.replace(PHOTO, seed=12), [2])[0]
    assert np.abs(other.image.astype(int) - forward[2].image).mean() > 5


def test_looks_share_the_camera_path_but_not_the_appearance():
    classic = _frames(dataclasses.replace(PHOTO, look='classic'), [3])[0]
    shot = _frames(PHOTO, [3])[0]
    np.testing.assert_array_equal(classic.pose, shot.pose)
    assert np.abs(classic.image.astype(int) - shot.image).mean() > 5


def test_ground_shadow_matches_shadow_rays():
    """Every ground pixel the mask marks (away from edges) has a shadow ray hitting the box."""
    width, height = 160, 96
    k = np.array([[90.0, 0, 79.5], [0, 90.0, 47.5], [0, 0, 1]])
    cam_from_world = np.eye(4)
    ground_y = 1.6
    pose = np.eye(4)
    pose[:3, :3] = rot_y(np.array(0.4))
    pose[:3, 3] = (1.0, ground_y - 1.5, 12.0)  # a box standing on the ground
    half = np.array([[1.0, 1.5, 2.0]])
    toward = np.array([0.5, -0.5, 0.6])  # sun ahead: the shadow falls towards the camera
    toward /= np.linalg.norm(toward)
    mask = ground_shadow(k, width, height, cam_from_world, pose[None], half, toward, ground_y)
    gx, gy = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    ray = np.stack([(gx - k[0, 2]) / k[0, 0], (gy - k[1, 2]) / k[1, 1], np.ones_like(gx)], -1)
    below = ray[..., 1] > 1e-3
    point = ray * (ground_y / np.where(below, ray[..., 1], 1.0))[..., None]
    # Shadow ray from the ground point towards the light, slab test in the box frame.
    rot, centre = pose[:3, :3], pose[:3, 3]
    origin = (point - centre) @ rot
    direction = toward @ rot
    with np.errstate(divide='ignore'):
        t1 = (-half[0] - origin) / direction
        t2 = (half[0] - origin) / direction
    near = np.minimum(t1, t2).max(-1)
    far = np.maximum(t1, t2).min(-1)
    shadowed = below & (near <= far) & (far > 0)
    assert shadowed.sum() > 200
    decided = below & ((mask > 0.99) | (mask < 0.01))
    assert (decided.sum() / below.sum()) > 0.95
    agree = (mask[decided] > 0.5) == shadowed[decided]
    assert agree.mean() > 0.995


def test_camera_effects_keep_geometry_and_grayscale():
    rng = np.random.default_rng(0)
    radiance = rng.uniform(0.0, 1.2, (24, 40, 3)).astype(np.float32)
    plain = CameraLook(exposure=0.8, white=(1.0, 0.9, 1.1), vignette=0.0, blur=0.0,
                       gray=False, noise=0.0, jpeg=0)
    image = plain.develop(radiance, 0.0, np.random.default_rng(1))
    expected = np.clip(radiance * np.array([0.8, 0.72, 0.88], np.float32), 0, 1) ** (1 / 2.2)
    np.testing.assert_allclose(image / 255.0, expected, atol=1.0 / 255 + 1e-6)
    gray = dataclasses.replace(plain, gray=True, noise=0.02, jpeg=50, vignette=0.3)
    out = gray.develop(radiance, 0.5, np.random.default_rng(1))
    assert out.shape == radiance.shape and out.dtype == np.uint8
    assert np.abs(out[..., 0].astype(int) - out[..., 2]).max() <= 2  # gray (JPEG rounding)


def test_look_is_validated():
    with pytest.raises(ValueError, match='look'):
        SynthConfig(look='shiny')
