"""Motion in the synthetic world: the camera trajectory and the speeds of the traffic lanes.

All poses are 4x4 float64 in the road-world frame of `synth_road` (y down, ground at
y = camera_height). Rotations use the optical-frame axes: yaw about y (down), pitch about x
(right), roll about z (forward).
"""

from __future__ import annotations

import math

import numpy as np

from rmdepth_ros.synth.config import SynthConfig
from rmdepth_ros.synth.road import CrossSection, Road

SUBSTEPS = 8  # integration steps per frame for the camera's arc length
KNOT_DT = 3.0  # seconds between random speed targets


def rot_y(psi: np.ndarray) -> np.ndarray:
    """Rotations about the y (down) axis, (..., 3, 3); positive psi turns +z towards +x."""
    c, s = np.cos(psi), np.sin(psi)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def rot_x(a: np.ndarray) -> np.ndarray:
    """Rotations about the x (right) axis, (..., 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    """Rotations about the z (forward) axis, (..., 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


class LaneSpeed:
    """Speeds of traffic lanes, v(t) = mean + amp sin(omega t + phase), with closed-form travel.

    Arrays are indexed by lane; every object in a lane moves with the lane so that objects in
    one lane never run into each other.
    """

    def __init__(self, mean: np.ndarray, amp: np.ndarray, omega: np.ndarray,
                 phase: np.ndarray) -> None:
        self.mean, self.amp, self.omega, self.phase = mean, amp, omega, phase

    def travel(self, lane: np.ndarray, t: float) -> np.ndarray:
        """Distance travelled by lane `lane` (int array) from time 0 to time t (s), metres."""
        m, a, w, p = self.mean[lane], self.amp[lane], self.omega[lane], self.phase[lane]
        return m * t + a / w * (np.cos(p) - np.cos(w * t + p))


class CameraPath:
    """Camera pose for every frame: drives along the inner right lane with speed changes.

    The lateral sway within the lane and the yaw that follows it are consistent (the car points
    along its path); pitch follows acceleration plus a slow oscillation, roll the lateral
    acceleration plus a slow oscillation; a small vertical bounce mimics the suspension.
    """

    def __init__(self, config: SynthConfig, road_rng: np.random.Generator,
                 rng: np.random.Generator, section: CrossSection) -> None:
        n, fps = config.frames, config.fps
        # Fixed-size draws first, so that a longer sequence extends a shorter one.
        self.sway = (rng.uniform(0.1, 0.35), 2 * math.pi / rng.uniform(60.0, 160.0),
                     rng.uniform(0, 2 * math.pi))
        amp = math.radians(config.pitch_roll_deg)
        self.osc = [(amp * rng.uniform(0.3, 1.0), rng.uniform(0.2, 1.2), rng.uniform(0, 6.3))
                    for _ in range(4)]
        self.bounce = (rng.uniform(0.005, 0.02), rng.uniform(1.0, 2.5), rng.uniform(0, 6.3))
        duration = (n - 1) / fps
        knots = int(math.ceil(duration / KNOT_DT)) + 2
        v = np.empty(knots)
        v[0] = rng.uniform(config.min_speed, config.max_speed)
        for k in range(1, knots):
            step = rng.uniform(-1.0, 1.0) * config.max_accel * KNOT_DT * 0.6
            v[k] = np.clip(v[k - 1] + step, config.min_speed, config.max_speed)
        t = np.arange((n - 1) * SUBSTEPS + 1) / (fps * SUBSTEPS)
        k = np.minimum((t / KNOT_DT).astype(int), knots - 2)
        u = t / KNOT_DT - k
        blend = 0.5 - 0.5 * np.cos(math.pi * u)
        speed = v[k] + (v[k + 1] - v[k]) * blend
        accel = (v[k + 1] - v[k]) * 0.5 * math.pi * np.sin(math.pi * u) / KNOT_DT
        s = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(t))])
        self.s = s[::SUBSTEPS]  # (n,) arc length of the camera, metres
        self.speed = speed[::SUBSTEPS]  # (n,) m/s
        self.accel = accel[::SUBSTEPS]  # (n,) m/s^2
        self.times = t[::SUBSTEPS]
        self.road = Road(road_rng, float(self.s[-1]) + 400.0, config.curviness)
        self.height = config.camera_height
        self.lane_d = section.lane_centre(0)
        self.poses = self._poses()  # (n, 4, 4)
        self.style = 'drive'
        self.looks_back = np.zeros(n, bool)  # the camera always looks along the road

    def lateral(self, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Lateral offset d(s) (metres) and the matching yaw offset (radians)."""
        a, k, p = self.sway
        d = self.lane_d + a * np.sin(k * np.asarray(s) + p)
        return d, np.arctan(a * k * np.cos(k * np.asarray(s) + p))

    def pose(self, i: int) -> np.ndarray:
        """(4, 4) float64 camera-to-road-world pose of frame i (optical frame)."""
        return self.poses[i]

    def _poses(self) -> np.ndarray:
        s, t = self.s, self.times
        x, z, psi = self.road.frame_at(s)
        d, yaw = self.lateral(s)
        kappa = self.road.kappa[np.searchsorted(self.road.start, s, side='right') - 1]
        (a1, w1, p1), (a2, w2, p2), (a3, w3, p3), (a4, w4, p4) = self.osc
        pitch = a1 * np.sin(w1 * t + p1) + a2 * np.sin(w2 * t + p2) + 0.006 * self.accel
        roll = a3 * np.sin(w3 * t + p3) + a4 * np.sin(w4 * t + p4) \
            - 0.003 * self.speed ** 2 * kappa
        ab, wb, pb = self.bounce
        poses = np.zeros((len(s), 4, 4))
        poses[:, 3, 3] = 1.0
        poses[:, :3, :3] = rot_y(psi + yaw) @ rot_x(pitch) @ rot_z(roll)
        poses[:, :3, 3] = np.stack([x + d * np.cos(psi), -ab * np.sin(wb * t + pb),
                                    z - d * np.sin(psi)], -1)
        return poses
