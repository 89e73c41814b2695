"""Diverse camera motion for the synthetic world (`SynthConfig.motion` other than 'drive').

A driving camera that moves forward at a steady speed makes "straight ahead" nearly the best
answer for a motion network. The styles here make it a poor one:

- 'static': the camera stands still (exactly identical poses) at any heading while traffic
  moves;
- 'turn': yaw rates of 30-150 deg/s (3-15 deg a frame at 10 Hz) of either sign, on the spot
  (40 % of sequences) or while creeping forward or backward at up to 5 m/s;
- 'reverse': backwards at 0.8-6 m/s with slow steering;
- 'stop_go': speed changes between standstill and 8 m/s (braking and starting);
- 'sideways': the camera looks 35-100 deg off the road while moving along it, or sways
  across its lane (up to 1.2 m) at 2-5 s periods;
- 'handheld': walking pace (-0.5 to 1.8 m/s), looking around (+-60 deg), pitch and roll
  offsets up to 6 deg and shake: small rotations (0.3-2 deg) and translations (0.5-4 cm) at
  1-4 Hz;
- 'corner': vehicle-like steering: the heading weaves 10-35 deg either side of the road at
  1.5-5 s periods while the camera moves at 1-8 m/s along its own heading (forward in the
  camera frame, as a car's camera does in a turn), the amplitude bounded so the camera stays
  over its lane; yaw rates reach ~100 deg/s;
- 'drive': the plain `CameraPath`.
'diverse' draws one style per sequence from the seed (weights `WEIGHTS`). Every style but
'static' and 'drive' adds pitch and roll of a few degrees (offset plus slow oscillation).

The camera stays over its own lane (lateral offset within 1.2 m of the lane centre, so it
never enters a parked or moving car) at camera_height (shake aside); its heading is free.
Arc length starts at START_S ahead of the road's origin so that a reversing camera has
road behind it (the street's generated part reaches back to `road.START_S`, 500 m behind).
"""

from __future__ import annotations

import math

import numpy as np

from rmdepth_ros.synth.config import SynthConfig
from rmdepth_ros.synth.motion import SUBSTEPS, CameraPath, rot_x, rot_y, rot_z
from rmdepth_ros.synth.road import CrossSection, Road

STYLES = ('static', 'turn', 'reverse', 'stop_go', 'sideways', 'handheld', 'drive', 'corner')
WEIGHTS = (0.10, 0.14, 0.10, 0.12, 0.10, 0.12, 0.12, 0.20)
START_S = 200.0  # arc length of the first frame, metres
LANE_SLACK = 1.2  # the camera stays this close to its lane centre, metres
LOOK_BACK = math.radians(30.0)  # beyond this heading off the road, the world behind is shown


def make_camera_path(config: SynthConfig, road_rng: np.random.Generator,
                     rng: np.random.Generator, section: CrossSection) -> CameraPath | AgilePath:
    """The camera path for `config.motion`: 'drive' is `CameraPath` exactly as it always was;
    any other value draws the style from `rng` first (so motion='turn' with seed k equals
    'diverse' with seed k whenever that drew 'turn'), then builds the path."""
    if config.motion == 'drive':
        return CameraPath(config, road_rng, rng, section)
    drawn = STYLES[int(np.searchsorted(np.cumsum(WEIGHTS), rng.uniform(0.0, sum(WEIGHTS))))]
    style = drawn if config.motion == 'diverse' else config.motion
    if style == 'drive':
        return CameraPath(config, road_rng, rng, section)
    return AgilePath(style, config, road_rng, rng, section)


def _knots(seed: int, t: np.ndarray, knot_dt: float, lo: float, hi: float,
           zero_prob: float = 0.0) -> np.ndarray:
    """Random values in [lo, hi] (0 with probability zero_prob) every knot_dt seconds, blended
    with a raised cosine; drawn from their own stream so that a longer t extends a shorter."""
    rng = np.random.default_rng(seed)
    n = int(math.ceil(t[-1] / knot_dt)) + 2
    draw = rng.uniform(0.0, 1.0, (n, 2))
    v = np.where(draw[:, 0] < zero_prob, 0.0, lo + (hi - lo) * draw[:, 1])
    k = np.minimum((t / knot_dt).astype(int), n - 2)
    blend = 0.5 - 0.5 * np.cos(math.pi * (t / knot_dt - k))
    return v[k] + (v[k + 1] - v[k]) * blend


def _shake(rng: np.random.Generator, t: np.ndarray, amp: float, axes: int = 3) -> np.ndarray:
    """(axes, len(t)) sums of three sinusoids at 1-4 Hz per axis, amplitude about `amp`."""
    a = amp * rng.uniform(0.3, 1.0, (axes, 3)) / 2.0
    f = rng.uniform(1.0, 4.0, (axes, 3))
    p = rng.uniform(0.0, 2 * math.pi, (axes, 3))
    return np.einsum('ak,akt->at', a, np.sin(2 * math.pi * f[..., None] * t + p[..., None]))


class AgilePath:
    """Camera pose for every frame for one motion style of the module doc.

    Same interface as `CameraPath` as the world uses it: s (arc length per frame), road,
    poses, pose(i), looks_back (per frame: the camera looks far enough off the road's forward
    direction that the street behind it must exist), plus style and speed (signed, m/s).
    """

    def __init__(self, style: str, config: SynthConfig, road_rng: np.random.Generator,
                 rng: np.random.Generator, section: CrossSection) -> None:
        self.style = style
        n, fps = config.frames, config.fps
        t = np.arange((n - 1) * SUBSTEPS + 1) / (fps * SUBSTEPS)
        seeds = rng.integers(0, 2**63, 6)  # one stream per knot signal, fixed-size draws first
        lane_d = section.lane_centre(0)
        d = np.full_like(t, lane_d + rng.uniform(-0.5, 0.5))
        phi = np.zeros_like(t)  # heading relative to the road, radians
        speed = np.zeros_like(t)  # m/s along the road, signed
        deg = math.radians
        pitch = np.full_like(t, rng.uniform(-deg(3), deg(3)))
        roll = np.full_like(t, rng.uniform(-deg(3), deg(3)))
        for angle in (pitch, roll):
            amp, freq, phase = rng.uniform(0, deg(3)), rng.uniform(0.1, 1.0), rng.uniform(0, 6.3)
            angle += amp * np.sin(2 * math.pi * freq * t + phase)
        shake_t = np.zeros((3, len(t)))
        if style == 'static':
            phi[:] = rng.uniform(-0.3, 0.3) if rng.random() < 0.5 else rng.uniform(-math.pi,
                                                                                     math.pi)
            pitch[:], roll[:] = pitch[0], roll[0]
        elif style == 'turn':
            sign = 1.0 if rng.random() < 0.5 else -1.0
            top = deg(rng.uniform(30.0, 150.0))
            rate = sign * top * _knots(seeds[0], t, 1.0, 0.6, 1.0)
            phi = rng.uniform(-0.3, 0.3) + np.concatenate([[0.0], np.cumsum(
                0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
            if rng.random() >= 0.4:
                direction = 1.0 if rng.random() < 0.75 else -1.0
                speed = direction * _knots(seeds[1], t, 1.5, 0.5, 5.0)
        elif style == 'reverse':
            speed = -_knots(seeds[1], t, 1.5, 0.8, 6.0)
            phi = _knots(seeds[2], t, 2.0, -deg(15), deg(15))
        elif style == 'stop_go':
            speed = _knots(seeds[1], t, rng.uniform(1.0, 2.0), 1.0, 8.0, zero_prob=0.4)
            phi = _knots(seeds[2], t, 3.0, -deg(5), deg(5))
        elif style == 'sideways':
            if rng.random() < 0.5:
                side = 1.0 if rng.random() < 0.5 else -1.0
                phi[:] = side * deg(rng.uniform(35.0, 100.0))
                speed = _knots(seeds[1], t, 1.5, 1.0, 8.0)
            else:
                amp, period = rng.uniform(0.6, LANE_SLACK), rng.uniform(2.0, 5.0)
                d = lane_d + amp * np.sin(2 * math.pi * t / period + rng.uniform(0, 6.3))
                speed = _knots(seeds[1], t, 1.5, 0.0, 3.0)
        elif style == 'handheld':
            speed = _knots(seeds[1], t, 1.5, -0.5, 1.8)
            phi = _knots(seeds[2], t, 1.5, -deg(60), deg(60))
            amp, period = rng.uniform(0.2, 1.0), rng.uniform(3.0, 8.0)
            d = lane_d + amp * np.sin(2 * math.pi * t / period + rng.uniform(0, 6.3))
            pitch += rng.uniform(-deg(3), deg(3))
            roll += rng.uniform(-deg(2), deg(2))
            rot_shake = _shake(rng, t, deg(rng.uniform(0.3, 2.0)))
            phi, pitch, roll = phi + rot_shake[0], pitch + rot_shake[1], roll + rot_shake[2]
            shake_t = _shake(rng, t, rng.uniform(0.005, 0.04))
        elif style == 'corner':
            top = rng.uniform(1.0, 8.0)
            period = rng.uniform(1.5, 5.0)
            # |d - d(0)| <= top * amplitude * period / pi (sin x <= x): keep it within 0.9 slack.
            amplitude = min(deg(rng.uniform(10.0, 35.0)), 0.9 * LANE_SLACK * math.pi
                            / (top * period))
            phi = amplitude * np.sin(2 * math.pi * t / period + rng.uniform(0, 6.3))
            ground = _knots(seeds[1], t, 1.5, 0.5 * top, top)  # speed along the heading
            lateral = ground * np.sin(phi)
            d = lane_d + np.concatenate([[0.0], np.cumsum(0.5 * (lateral[1:] + lateral[:-1])
                                                          * np.diff(t))])
            speed = ground * np.cos(phi)
        else:
            raise ValueError(f'unknown motion style {style!r}; expected one of {STYLES}')
        s = START_S + np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1])
                                                       * np.diff(t))])
        frame = slice(None, None, SUBSTEPS)
        self.s, self.speed, self.times = s[frame], speed[frame], t[frame]
        self.road = Road(road_rng, float(s.max()) + 400.0, config.curviness)
        self.looks_back = np.abs(np.angle(np.exp(1j * phi[frame]))) > LOOK_BACK
        d = np.clip(d, lane_d - LANE_SLACK, lane_d + LANE_SLACK)
        self.poses = self._poses(self.s, d[frame], phi[frame], pitch[frame], roll[frame],
                                 shake_t[:, frame])

    def pose(self, i: int) -> np.ndarray:
        """(4, 4) float64 camera-to-road-world pose of frame i (optical frame)."""
        return self.poses[i]

    def _poses(self, s: np.ndarray, d: np.ndarray, phi: np.ndarray, pitch: np.ndarray,
               roll: np.ndarray, shake: np.ndarray) -> np.ndarray:
        x, z, psi = self.road.frame_at(s)
        poses = np.zeros((len(s), 4, 4))
        poses[:, 3, 3] = 1.0
        poses[:, :3, :3] = rot_y(psi + phi) @ rot_x(pitch) @ rot_z(roll)
        poses[:, :3, 3] = np.stack([x + d * np.cos(psi), np.zeros_like(s),
                                    z - d * np.sin(psi)], -1) + shake.T
        return poses
