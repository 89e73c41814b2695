"""Configuration of the synthetic street world: one frozen dataclass, validated on construction.

Re-exported by `rmdepth_ros.synth.sequence`; see that module for what the world contains.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math

import numpy as np

# 'drive' and 'diverse', then the styles of synth.agile.STYLES (kept equal by a test).
LOOKS = ('classic', 'photo')
MOTIONS = ('drive', 'diverse', 'static', 'turn', 'reverse', 'stop_go', 'sideways', 'handheld',
           'corner')


@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines a synthetic sequence; equal configs give identical sequences.

    Sizes are pixels, lengths metres, speeds m/s, densities objects per 100 m of road.
    Intrinsics left as None take the KITTI values scaled to the image as monodepth2 does:
    fx = 0.58 W, fy = 1.92 H, cx = W / 2 - 0.5, cy = H / 2 - 0.5 (pixel-centre convention of
    docs/conventions.md).
    """

    width: int = 640
    height: int = 192
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    fps: float = 10.0
    frames: int = 100
    seed: int = 0
    camera_height: float = 1.65  # metres above the ground
    min_speed: float = 4.0  # camera speed range, m/s
    max_speed: float = 12.0
    max_accel: float = 2.0  # m/s^2
    pitch_roll_deg: float = 0.8  # amplitude of the slow pitch / roll oscillation, degrees
    curviness: float = 0.5  # fraction of the road that is curved, in [0, 1]
    lanes_per_direction: int = 2  # the camera drives in the inner one
    parked_cars_per_100m: float = 6.0  # per side
    clutter_per_100m: float = 8.0  # poles, trees, bins; per side
    moving_cars_per_100m: float = 3.0  # per traffic lane
    pedestrians_per_100m: float = 3.0  # per walking slot (4 slots per sidewalk)
    blur_sigma: float = 0.6  # optical blur of the lens, Gaussian sigma in pixels (0 = none)
    # Camera motion: 'drive' (forward along the lane, steady-ish speed), 'diverse' (one style
    # per sequence drawn from the seed) or one style of `synth.agile.STYLES`; see synth/agile.py.
    motion: str = 'drive'
    # Appearance: 'classic' (procedural colours, flat light, no shadows; the world of the
    # weights up to stage 10) or 'photo' (CC0 photo textures, sky panoramas, sun with cast
    # shadows, detailed cars / people / trees / kerbs, camera effects; synth/photo_shade.py).
    look: str = 'classic'

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f'SynthConfig.{f.name} must be finite, got {value}')
        _check(16 <= self.width <= 4096 and 16 <= self.height <= 4096,
               f'width and height must be in [16, 4096], got {self.width}x{self.height}')
        for name in ('fx', 'fy'):
            value = getattr(self, name)
            _check(value is None or value > 0, f'{name} must be positive, got {value}')
        _check(self.fps > 0, f'fps must be positive, got {self.fps}')
        _check(self.frames >= 1, f'frames must be at least 1, got {self.frames}')
        _check(0 <= self.seed < 2**63, f'seed must be in [0, 2^63), got {self.seed}')
        _check(0.3 <= self.camera_height <= 10.0,
               f'camera_height must be in [0.3, 10] m, got {self.camera_height}')
        _check(0 < self.min_speed <= self.max_speed <= 40.0,
               'speeds must satisfy 0 < min_speed <= max_speed <= 40 m/s, got '
               f'{self.min_speed}, {self.max_speed}')
        _check(self.max_accel > 0, f'max_accel must be positive, got {self.max_accel}')
        _check(0 <= self.pitch_roll_deg <= 5.0,
               f'pitch_roll_deg must be in [0, 5], got {self.pitch_roll_deg}')
        _check(0 <= self.blur_sigma <= 5, f'blur_sigma must be in [0, 5], got {self.blur_sigma}')
        _check(0 <= self.curviness <= 1, f'curviness must be in [0, 1], got {self.curviness}')
        _check(self.lanes_per_direction in (1, 2),
               f'lanes_per_direction must be 1 or 2, got {self.lanes_per_direction}')
        _check(self.look in LOOKS, f'look must be one of {LOOKS}, got {self.look!r}')
        _check(self.motion in MOTIONS,
               f'motion must be one of {MOTIONS}, got {self.motion!r}')
        for name in ('parked_cars_per_100m', 'clutter_per_100m', 'moving_cars_per_100m',
                     'pedestrians_per_100m'):
            value = getattr(self, name)
            _check(0 <= value <= 30, f'{name} must be in [0, 30], got {value}')

    @property
    def intrinsics(self) -> np.ndarray:
        """(3, 3) float64 camera matrix K in pixels for (width, height)."""
        fx = 0.58 * self.width if self.fx is None else self.fx
        fy = 1.92 * self.height if self.fy is None else self.fy
        cx = 0.5 * self.width - 0.5 if self.cx is None else self.cx
        cy = 0.5 * self.height - 0.5 if self.cy is None else self.cy
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
