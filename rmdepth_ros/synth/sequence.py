"""Synthetic street world: procedural KITTI-like driving sequences with exact ground truth.

A camera (default 1.65 m above the ground, KITTI-like intrinsics, 10 Hz) drives along a street
of straight lines and curves with speed changes and small pitch / roll; with `motion` other
than 'drive' it moves in other ways (standing, turning on the spot, reversing, sideways,
handheld shake; `rmdepth_ros.synth.agile`). The street has a road with lane markings, kerbs,
sidewalks with paving, buildings with windows and walls on both sides, street lights, trees,
bins and posts, parked cars, and independently moving cars (in both directions) and
pedestrians, under a sky. Every object is an oriented box (the ground a
plane), rendered by exact ray casting in numpy (no external renderer). Surfaces are textured
procedurally in their own coordinates, so a photometric loss has signal everywhere but the sky;
lighting varies between sequences, never within one. The image gets a slight Gaussian lens blur
(`blur_sigma`), which keeps edges from aliasing between frames.

That is the 'classic' look (`SynthConfig.look`). The 'photo' look keeps the road, camera path
and the kinds of objects but makes them look like a street photographed by a real camera: CC0
photo textures on facades, walls, road, kerbs, sidewalks, verges and trees (`synth.photo`),
a sky panorama, a sun whose boxes cast exact shadows on the ground plus sky light
(`synth.photo_shade`, `synth.shadow`), cars on wheels, pedestrians with legs and heads, trees
with leafy crowns, street lights with arms, signs, fences, hedges and kerb stones
(`synth.props`), and per-sequence camera effects: exposure, white balance, vignetting, blur,
grayscale sensors, sensor noise and JPEG compression (`synth.camera`). The ground truth is
exact in both looks; appearance never moves a pixel.

Every frame (`rmdepth_ros.datasets.sequence.Frame`) carries: the RGB image; depth in metres
(optical z, +inf for the sky); the camera pose (camera-to-world, optical frame; the world frame is
the first frame's camera, so frame 0 has the identity pose, as in KITTI poses.txt); intrinsics;
and, from frame 1 on, the exact optical flow from the previous frame, its validity mask (False
where the point was out of view, occluded, or not yet part of the world in the previous frame),
the moving-object mask and the 3D object motion (docs/conventions.md for signs and frames).
Frame 0 has flow, flow_valid and object_motion None (there is no previous frame); its
motion_mask is given (the objects on it are moving). Flow is defined on every pixel whose point
lies in front of the previous camera (NaN elsewhere), sky included (a point at infinity moves
with the camera rotation only); use flow_valid to select pixels.

Everything is a function of the config: the same `SynthConfig` gives the same frames, in any
order of access, and a longer sequence starts with the frames of a shorter one. Iterating in
order is faster than random access, which renders the previous frame's depth again. A sequence
object is not thread-safe (it caches); use one per thread.

    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence
    seq = SyntheticSequence(SynthConfig(frames=50, seed=3))
    for frame in seq: ...
"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses

import cv2
import numpy as np

from rmdepth_ros.datasets.sequence import Frame, Sequence
from rmdepth_ros.synth.agile import make_camera_path
from rmdepth_ros.synth.camera import CameraLook
from rmdepth_ros.synth.config import SynthConfig
from rmdepth_ros.synth.flow import motion_truth
from rmdepth_ros.synth.photo_shade import PhotoShader, SunSky
from rmdepth_ros.synth.render import Raycaster
from rmdepth_ros.synth.road import CrossSection
from rmdepth_ros.synth.shade import Shader
from rmdepth_ros.synth.texture import Lighting, Textures
from rmdepth_ros.synth.world import Scene, World

__all__ = ['SynthConfig', 'SyntheticSequence', 'generate']

LANE_WIDTH = 3.5  # metres


class SyntheticSequence(Sequence):
    """A procedurally generated driving sequence of `config.frames` frames (see module doc)."""

    def __init__(self, config: SynthConfig | None = None) -> None:
        self.config = config = SynthConfig() if config is None else config
        self.name = f'synthetic-seed{config.seed}-{config.width}x{config.height}'
        self.intrinsics = config.intrinsics
        section = CrossSection(LANE_WIDTH, config.lanes_per_direction)
        self.path = make_camera_path(config, self._rng(1), self._rng(2), section)
        self.world = World(config, self.path, section)
        self.caster = Raycaster(self.intrinsics, config.width, config.height)
        args = (self.intrinsics, config.width, config.height, self.path.road, section,
                Lighting.random(self._rng(3)), Textures(self._rng(4)))
        if config.look == 'photo':
            self.shader = PhotoShader(*args, light=SunSky.random(self._rng(5)))
            self.camera = CameraLook.random(self._rng(6))
        else:
            self.shader = Shader(*args)
        self._world_from_road = np.linalg.inv(self.path.pose(0))
        self._last: tuple[int, np.ndarray] | None = None  # (index, depth) of the last frame

    def _rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, *stream])

    def __len__(self) -> int:
        return self.config.frames

    def __getitem__(self, index: int) -> Frame:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'frame {index} out of range for a sequence of {n} frames')
        return self._frame(int(index) % n)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self._frame(i)

    def _render(self, i: int, scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cam_from_world = np.linalg.inv(self.path.pose(i))
        depth, ids = self.caster.render(cam_from_world, scene.pose, scene.boxes.half,
                                        self.config.camera_height)
        return depth, ids, cam_from_world

    def _frame(self, i: int) -> Frame:
        scene = self.world.scene(i)
        depth, ids, cam_from_world = self._render(i, scene)
        pose = self.path.pose(i)
        cam_from_box = cam_from_world[None] @ scene.pose
        shade = (depth, ids, pose, float(self.path.s[i]), cam_from_box, scene.pose, scene.boxes,
                 self.world.looks_back(i))
        if self.config.look == 'photo':
            radiance = self.shader.radiance(*shade, ground_y=self.config.camera_height)
            image = self.camera.develop(radiance, self.config.blur_sigma, self._rng(7, i))
        else:
            image = self.shader.image(*shade)
            if self.config.blur_sigma > 0:
                image = cv2.GaussianBlur(image, (0, 0), self.config.blur_sigma)
        frame = Frame(image=image, intrinsics=self.intrinsics.copy(),
                      timestamp=i / self.config.fps, depth=depth,
                      pose=np.eye(4) if i == 0 else self._world_from_road @ pose, index=i,
                      motion_mask=np.concatenate([[False, False], scene.moving])[ids + 1])
        if i > 0:
            if self._last is not None and self._last[0] == i - 1:
                prev_depth = self._last[1]
            else:
                prev_depth = self._render(i - 1, self.world.scene(i - 1))[0]
            prev_from_world = np.linalg.inv(self.path.pose(i - 1))
            prev_from_cur = prev_from_world @ pose
            # Box points: current camera -> box frame now -> world at the previous time -> cam.
            prev_from_cur_box = prev_from_world[None] @ scene.pose_prev \
                @ np.linalg.inv(cam_from_box)
            truth = motion_truth(depth, ids, self.intrinsics, prev_from_cur,
                                 prev_from_cur_box, scene.moving, scene.present_prev,
                                 prev_depth)
            frame.flow, frame.flow_valid = truth.flow, truth.flow_valid
            frame.object_motion = truth.object_motion
        self._last = (i, depth.copy())  # the caller may modify frame.depth
        return frame


def generate(config: SynthConfig | None = None, **overrides) -> list[Frame]:
    """All frames of the sequence for `config` (SynthConfig defaults if None) with any field
    overridden by keyword, e.g. ``generate(frames=20, seed=1)``. Holds every frame in memory
    (about 3.5 MB a frame at 640x192); iterate a SyntheticSequence to stream instead."""
    config = SynthConfig() if config is None else config
    if overrides:
        config = dataclasses.replace(config, **overrides)
    return list(SyntheticSequence(config))
