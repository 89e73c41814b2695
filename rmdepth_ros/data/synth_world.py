"""Content of the synthetic street: buildings, walls, street furniture, parked and moving cars,
pedestrians, all oriented boxes placed in road coordinates (see `synth_road`).

The street is generated lazily in chunks of CHUNK metres of road, each from its own random
stream keyed by (seed, kind, chunk), so the world does not depend on the sequence length or on
the order frames are asked for. Moving objects live in *lanes* (traffic lanes and walking slots
on the sidewalks); everything in a lane moves with the lane's speed, so objects in one lane
never overlap. An object's box is described in its own frame (x right, y down, z forward,
origin on the ground) and placed by its road coordinates (s, d) and a yaw relative to the road.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
import math

import numpy as np

from rmdepth_ros.data.synth_config import SynthConfig
from rmdepth_ros.data.synth_motion import CameraPath, LaneSpeed, rot_y
from rmdepth_ros.data.synth_road import CrossSection

CHUNK = 60.0  # metres of road per generated chunk
BEHIND = 30.0  # objects this far behind the camera (arc length) are kept
FAR_REACH = 260.0  # buildings and walls are shown this far ahead
NEAR_REACH = 160.0  # smaller objects are shown this far ahead
NO_PATTERN = (1e4, 1e4, 0.0, 0.0, 0.0, 0.0)
_FIELDS = ('s', 'd', 'yaw', 'offset', 'half', 'lane', 'direction', 'reach', 'color', 'color2',
           'pattern', 'noise', 'tex')


@dataclass
class BoxTable:
    """Boxes as a structure of arrays, N rows.

    s: (N,) arc length (static) or arc length at time 0 (moving), metres.
    d: (N,) lateral offset, metres; yaw: (N,) radians relative to the road heading.
    offset: (N, 3) box centre in the object frame; half: (N, 3) half extents, metres.
    lane: (N,) int, -1 for static boxes; direction: (N,) +1 / -1 along the road.
    reach: (N,) metres ahead of the camera where the box is shown.
    color, color2: (N, 3) float32 linear RGB in [0, 1] of the surface and of its pattern.
    pattern: (N, 6) float32 (period_u, period_v, u0, u1, v0, v1), metres: on vertical faces,
        cells of period_u x period_v whose rectangle [u0, u1] x [v0, v1] (from the cell's
        corner) takes color2; u runs along the face, v down from the box top.
    noise: (N,) float32 texture noise amplitude; tex: (N, 2) float32 texture offsets, metres.
    """

    s: np.ndarray
    d: np.ndarray
    yaw: np.ndarray
    offset: np.ndarray
    half: np.ndarray
    lane: np.ndarray
    direction: np.ndarray
    reach: np.ndarray
    color: np.ndarray
    color2: np.ndarray
    pattern: np.ndarray
    noise: np.ndarray
    tex: np.ndarray

    def __len__(self) -> int:
        return len(self.s)

    @property
    def patterned(self) -> np.ndarray:
        """(N,) bool: the box's vertical faces carry a pattern."""
        p = self.pattern
        return (p[:, 3] > p[:, 2]) & (p[:, 5] > p[:, 4])

    @property
    def pattern_mean(self) -> np.ndarray:
        """(N, 2) float32 fraction of a pattern cell covered along u and along v."""
        p = self.pattern
        return np.clip(np.stack([(np.minimum(p[:, 3], p[:, 0]) - np.maximum(p[:, 2], 0.0)) / p[:, 0],
                                 (np.minimum(p[:, 5], p[:, 1]) - np.maximum(p[:, 4], 0.0)) / p[:, 1]],
                                1), 0.0, 1.0)

    def take(self, index: np.ndarray) -> BoxTable:
        """Rows `index` (int or bool array)."""
        return BoxTable(*(getattr(self, f)[index] for f in _FIELDS))

    @staticmethod
    def concat(tables: list[BoxTable]) -> BoxTable:
        """All rows of `tables`, in order."""
        return BoxTable(*(np.concatenate([getattr(t, f) for t in tables]) for f in _FIELDS))


class _Builder:
    """Collects boxes row by row."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.rows: list[tuple] = []

    def box(self, s: float, d: float, size: tuple[float, float, float], bottom: float,
            color, color2=(0.0, 0.0, 0.0), pattern=NO_PATTERN, noise: float = 0.2,
            yaw: float = 0.0, forward: float = 0.0, lane: int = -1, direction: int = 1,
            reach: float = NEAR_REACH) -> None:
        """Add a box of `size` (width, height, length) metres whose base is `bottom` metres above
        the ground, shifted `forward` metres along the object's z axis."""
        w, h, length = size
        self.rows.append((s, d, yaw, (0.0, -bottom - h / 2, forward), (w / 2, h / 2, length / 2),
                          lane, direction, reach, color, color2, pattern, noise,
                          self.rng.uniform(0.0, 400.0, 2)))

    def table(self) -> BoxTable:
        if not self.rows:
            empty = {f: np.zeros((0, 3)) for f in ('offset', 'half', 'color', 'color2')}
            return BoxTable(np.zeros(0), np.zeros(0), np.zeros(0), empty['offset'],
                            empty['half'], np.zeros(0, int), np.zeros(0, int), np.zeros(0),
                            empty['color'].astype(np.float32),
                            empty['color2'].astype(np.float32), np.zeros((0, 6), np.float32),
                            np.zeros(0, np.float32), np.zeros((0, 2), np.float32))
        cols = list(zip(*self.rows, strict=True))
        f32 = np.float32
        return BoxTable(np.array(cols[0]), np.array(cols[1]), np.array(cols[2]),
                        np.array(cols[3]), np.array(cols[4]), np.array(cols[5], dtype=int),
                        np.array(cols[6], dtype=int), np.array(cols[7]),
                        np.array(cols[8], f32), np.array(cols[9], f32), np.array(cols[10], f32),
                        np.array(cols[11], f32), np.array(cols[12], f32))


def _jitter(rng: np.random.Generator, rgb: tuple[float, float, float], amount: float = 0.08):
    return tuple(float(np.clip(c * rng.uniform(1 - amount, 1 + amount), 0.0, 1.0)) for c in rgb)


FACADE_COLORS = ((0.80, 0.72, 0.60), (0.62, 0.36, 0.28), (0.75, 0.75, 0.72), (0.85, 0.80, 0.55),
                 (0.55, 0.58, 0.62), (0.90, 0.86, 0.80), (0.65, 0.50, 0.40))
CAR_COLORS = ((0.75, 0.75, 0.78), (0.12, 0.12, 0.14), (0.60, 0.08, 0.08), (0.15, 0.25, 0.55),
              (0.90, 0.90, 0.88), (0.35, 0.38, 0.40), (0.20, 0.40, 0.25), (0.80, 0.60, 0.20))
CLOTH_COLORS = ((0.15, 0.15, 0.2), (0.5, 0.1, 0.1), (0.2, 0.3, 0.6), (0.7, 0.7, 0.65),
                (0.3, 0.45, 0.3), (0.6, 0.5, 0.3))
GLASS = (0.10, 0.13, 0.17)


def add_car(b: _Builder, s: float, d: float, yaw: float, lane: int = -1, direction: int = 1):
    """A car: body with a dark lower band (wheels) and a cabin with windows."""
    rng = b.rng
    width, length = rng.uniform(1.65, 1.9), rng.uniform(3.8, 4.9)
    body_h, cabin_h = rng.uniform(0.75, 0.95), rng.uniform(0.45, 0.6)
    paint = _jitter(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))])
    kw = {'yaw': yaw, 'lane': lane, 'direction': direction}
    b.box(s, d, (width, body_h, length), 0.0, paint, (0.05, 0.05, 0.05),
          (1e4, 1e4, -1e3, 1e3, 0.72 * body_h, 1e3), 0.1, **kw)
    cabin_len = length * rng.uniform(0.45, 0.6)
    b.box(s, d, (width * 0.9, cabin_h, cabin_len), body_h, paint, GLASS,
          (cabin_len / 2, 1e4, 0.035 * cabin_len, 0.465 * cabin_len, 0.12 * cabin_h, 1e3), 0.1,
          forward=-length * rng.uniform(0.0, 0.1), **kw)


def add_pedestrian(b: _Builder, s: float, d: float, yaw: float, lane: int, direction: int):
    """A pedestrian: legs and a torso whose top is the head."""
    rng = b.rng
    height = rng.uniform(1.55, 1.9)
    legs = height * 0.47
    kw = {'yaw': yaw, 'lane': lane, 'direction': direction}
    b.box(s, d, (0.34, legs, 0.22), 0.0, _jitter(rng, CLOTH_COLORS[rng.integers(6)]),
          noise=0.15, **kw)
    top = height - legs
    skin = _jitter(rng, (0.85, 0.65, 0.5), 0.15)
    b.box(s, d, (0.46, top, 0.28), legs, _jitter(rng, CLOTH_COLORS[rng.integers(6)]), skin,
          (1e4, 1e4, -1e3, 1e3, -1e3, 0.24), 0.15, **kw)


def static_chunk(rng: np.random.Generator, chunk: int, config: SynthConfig,
                 section: CrossSection) -> BoxTable:
    """Buildings, walls, street furniture and parked cars on both sides of one chunk."""
    b = _Builder(rng)
    lo, hi = chunk * CHUNK, (chunk + 1) * CHUNK
    for side in (-1.0, 1.0):
        pos = lo + rng.uniform(0.0, 4.0)
        while pos < hi - 6.0:
            length = min(rng.uniform(8.0, 28.0), hi - 1.0 - pos)
            kind = rng.random()
            if length >= 5.0 and kind < 0.75:
                setback, depth = rng.uniform(0.0, 4.0), rng.uniform(8.0, 18.0)
                height = rng.uniform(5.0, 22.0)
                floor, bay = rng.uniform(2.9, 3.6), rng.uniform(2.2, 4.0)
                win = rng.uniform(0.15, 0.3)
                b.box(pos + length / 2, side * (section.building_line + setback + depth / 2),
                      (depth, height, length), 0.0,
                      _jitter(rng, FACADE_COLORS[rng.integers(len(FACADE_COLORS))]),
                      _jitter(rng, (0.16, 0.2, 0.26), 0.3),
                      (bay, floor, win * bay, (1 - win) * bay, rng.uniform(0.2, 0.35) * floor,
                       rng.uniform(0.7, 0.8) * floor),
                      rng.uniform(0.15, 0.3), reach=FAR_REACH)
            elif kind < 0.9:
                height = rng.uniform(0.8, 2.5)
                brick = _jitter(rng, (0.6, 0.35, 0.25) if rng.random() < 0.5 else (0.6,) * 3)
                brick_len = rng.uniform(0.25, 0.5)
                b.box(pos + length / 2, side * (section.building_line + rng.uniform(0.2, 1.0)),
                      (0.3, height, length), 0.0, (0.75, 0.72, 0.68), brick,
                      (brick_len, 0.15, 0.015, brick_len, 0.015, 0.15), 0.2, reach=FAR_REACH)
            pos += length + rng.uniform(0.0, 6.0)
        # Street furniture on the strip along the kerb.
        count = rng.poisson(config.clutter_per_100m * CHUNK / 100.0)
        strip = side * (section.kerb + 0.45)
        last = -np.inf
        for s in np.sort(rng.uniform(lo + 1.0, hi - 1.0, count)):
            if s - last < 2.5:
                continue
            last = s
            kind = rng.random()
            if kind < 0.4:  # street light
                b.box(s, strip, (0.18, rng.uniform(5.0, 8.0), 0.18), 0.0,
                      _jitter(rng, (0.45, 0.47, 0.5)), noise=0.15)
            elif kind < 0.7:  # tree: trunk and crown
                trunk = rng.uniform(2.2, 3.5)
                b.box(s, strip, (0.3, trunk, 0.3), 0.0, _jitter(rng, (0.35, 0.25, 0.15)),
                      noise=0.3)
                crown = rng.uniform(2.2, 3.2)
                b.box(s, strip, (crown, rng.uniform(2.0, 3.5), crown), trunk - 0.2,
                      _jitter(rng, (0.2, 0.4, 0.12), 0.2), noise=0.6, yaw=rng.uniform(0, 1.5))
            elif kind < 0.85:  # bin
                b.box(s, strip, (0.6, 1.1, 0.6), 0.0, _jitter(rng, (0.2, 0.35, 0.25), 0.3),
                      noise=0.2, yaw=rng.uniform(-0.3, 0.3))
            else:  # bollard or sign post
                b.box(s, strip, (0.15, rng.uniform(0.8, 2.6), 0.15), 0.0,
                      _jitter(rng, (0.7, 0.7, 0.7), 0.2), noise=0.1)
        # Parked cars on the parking strip.
        count = rng.poisson(config.parked_cars_per_100m * CHUNK / 100.0)
        lane_d = side * (section.carriageway + section.parking / 2 + 0.05)
        last = -np.inf
        for s in np.sort(rng.uniform(lo + 3.0, hi - 3.0, count)):
            if s - last < 5.8:
                continue
            last = s
            add_car(b, s, lane_d, rng.normal(0.0, 0.03) + (math.pi if rng.random() < 0.3 else 0))
    return b.table()


def lane_layout(config: SynthConfig, section: CrossSection, rng: np.random.Generator):
    """Lanes of moving objects: (d, direction, is_car) per lane and their speeds."""
    lanes = []
    if config.lanes_per_direction == 2:
        lanes.append((section.lane_centre(1), 1, True))
    for k in range(config.lanes_per_direction):
        lanes.append((-section.lane_centre(k), -1, True))
    for side in (-1, 1):
        for j in range(4):
            lanes.append((side * (section.kerb + 1.05 + 0.62 * j), 1 - 2 * (j % 2), False))
    cars = np.array([c for _, _, c in lanes])
    mean = np.where(cars, rng.uniform(6.0, 14.0, len(lanes)), rng.uniform(0.8, 1.7, len(lanes)))
    speed = LaneSpeed(mean, mean * rng.uniform(0.0, 0.25, len(lanes)),
                      rng.uniform(0.1, 0.5, len(lanes)), rng.uniform(0, 2 * math.pi, len(lanes)))
    return lanes, speed


def moving_chunk(rng: np.random.Generator, chunk: int, lane: int, lane_info, config):
    """Objects of one lane whose arc length at time 0 falls in the chunk."""
    d, direction, is_car = lane_info
    b = _Builder(rng)
    lo, hi = chunk * CHUNK, (chunk + 1) * CHUNK
    density = config.moving_cars_per_100m if is_car else config.pedestrians_per_100m
    gap = 7.5 if is_car else 1.2
    last = -np.inf
    for s in np.sort(rng.uniform(lo + gap / 2, hi - gap / 2, rng.poisson(density * CHUNK / 100))):
        if s - last < gap:
            continue
        last = s
        yaw = 0.0 if direction > 0 else math.pi
        if is_car:
            add_car(b, s, d + rng.normal(0.0, 0.1), yaw, lane, direction)
        else:
            add_pedestrian(b, s, d, yaw, lane, direction)
    return b.table()


@dataclass
class Scene:
    """The boxes of one frame. pose, pose_prev: (N, 4, 4) float64 box-to-road-world at this
    frame and at the previous one (equal for static boxes and on frame 0); moving: (N,) bool;
    present_prev: (N,) bool, False for boxes that were not part of the previous frame."""

    boxes: BoxTable
    pose: np.ndarray
    pose_prev: np.ndarray
    moving: np.ndarray
    present_prev: np.ndarray


class World:
    """All boxes of the street; `scene(i)` gives the ones near the camera at frame i."""

    def __init__(self, config: SynthConfig, path: CameraPath, section: CrossSection) -> None:
        self.config, self.path, self.section = config, path, section
        self.lanes, self.speed = lane_layout(config, section, self._rng(1))
        self._cache: OrderedDict[tuple, BoxTable] = OrderedDict()

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, 0x5EED, *key])

    def _chunk(self, key: tuple[int, int]) -> BoxTable:
        table = self._cache.get(key)
        if table is None:
            lane, chunk = key
            rng = self._rng(2, lane + 1, chunk + 2**31)
            if lane < 0:
                table = static_chunk(rng, chunk, self.config, self.section)
            else:
                table = moving_chunk(rng, chunk, lane, self.lanes[lane], self.config)
            self._cache[key] = table
            if len(self._cache) > 2048:
                self._cache.popitem(last=False)
        return table

    def _window(self, i: int) -> tuple[float, float]:
        s = float(self.path.s[i])
        return s - BEHIND, s + FAR_REACH

    def _positions(self, boxes: BoxTable, t: float) -> np.ndarray:
        s = boxes.s.copy()
        moving = boxes.lane >= 0
        s[moving] += boxes.direction[moving] * self.speed.travel(boxes.lane[moving], t)
        return s

    def _inside(self, boxes: BoxTable, s: np.ndarray, i: int) -> np.ndarray:
        cam = self.path.s[i]
        return (s >= cam - BEHIND) & (s <= cam + boxes.reach)

    def scene(self, i: int) -> Scene:
        """Boxes shown at frame i with their poses at frames i and i - 1."""
        t = i / self.config.fps
        lo, hi = self._window(i)
        tables = [self._chunk((-1, c)) for c in range(int(lo // CHUNK), int(hi // CHUNK) + 1)]
        for lane in range(len(self.lanes)):
            shift = self.lanes[lane][1] * float(self.speed.travel(np.array([lane]), t)[0])
            a, b = lo - shift, hi - shift
            tables += [self._chunk((lane, c)) for c in range(int(a // CHUNK), int(b // CHUNK) + 1)]
        boxes = BoxTable.concat(tables)
        s = self._positions(boxes, t)
        keep = self._inside(boxes, s, i)
        boxes, s = boxes.take(keep), s[keep]
        pose = self.box_poses(boxes, s)
        moving = boxes.lane >= 0
        if i == 0:
            return Scene(boxes, pose, pose, moving, np.ones(len(boxes), bool))
        s_prev = self._positions(boxes, (i - 1) / self.config.fps)
        pose_prev = pose.copy()
        pose_prev[moving] = self.box_poses(boxes.take(moving), s_prev[moving])
        return Scene(boxes, pose, pose_prev, moving, self._inside(boxes, s_prev, i - 1))

    def box_poses(self, boxes: BoxTable, s: np.ndarray) -> np.ndarray:
        """(N, 4, 4) box-to-road-world poses for boxes at arc lengths s."""
        x, z, psi = self.path.road.frame_at(s)
        rot = rot_y(psi + boxes.yaw)
        pose = np.zeros((len(s), 4, 4))
        pose[:, :3, :3] = rot
        pose[:, 3, 3] = 1.0
        origin = np.stack([x + boxes.d * np.cos(psi), np.full_like(x, self.config.camera_height),
                           z - boxes.d * np.sin(psi)], -1)
        pose[:, :3, 3] = origin + np.einsum('nij,nj->ni', rot, boxes.offset)
        return pose
