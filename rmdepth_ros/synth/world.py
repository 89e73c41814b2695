"""Content of the synthetic street: buildings, walls, street furniture, parked and moving cars,
pedestrians, all oriented boxes (`synth_boxes`) placed in road coordinates (`synth_road`).

The street is generated lazily in chunks of CHUNK metres of road, each from its own random
stream keyed by (seed, kind, chunk), so the world does not depend on the sequence length or on
the order frames are asked for. Moving objects live in *lanes* (traffic lanes and walking slots
on the sidewalks); everything in a lane moves with the lane's speed, so objects in one lane
never overlap.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
import math
from typing import NamedTuple

import numpy as np

from rmdepth_ros.synth import props
from rmdepth_ros.synth.agile import AgilePath
from rmdepth_ros.synth.boxes import (
    FACADE_COLORS,
    FAR_REACH,
    BoxBuilder,
    BoxTable,
    add_car,
    add_pedestrian,
    jitter,
)
from rmdepth_ros.synth.config import SynthConfig
from rmdepth_ros.synth.motion import CameraPath, LaneSpeed, rot_y
from rmdepth_ros.synth.road import CrossSection, Road

CHUNK = 60.0  # metres of road per generated chunk
BEHIND = 30.0  # objects this far behind the camera (arc length) are kept


def static_chunk(rng: np.random.Generator, chunk: int, config: SynthConfig,
                 section: CrossSection, road: Road) -> BoxTable:
    """Buildings, walls, street furniture and parked cars on both sides of one chunk."""
    b = BoxBuilder(rng)
    photo = config.look == 'photo'
    lo, hi = chunk * CHUNK, (chunk + 1) * CHUNK
    # On a curve a straight facade bulges towards the road on the inside by length^2 / (8 r);
    # keep that under half a metre.
    first, last = np.clip(np.searchsorted(road.start, [lo, hi], side='right') - 1, 0, None)
    kappa = np.abs(road.kappa[first:last + 1]).max()
    longest = 28.0 if kappa == 0 else min(28.0, math.sqrt(4.0 * (1.0 / kappa - 40.0)))
    for side in (-1.0, 1.0):
        pos = lo + rng.uniform(0.0, 4.0)
        while pos < hi - 6.0:
            length = min(rng.uniform(8.0, 28.0), longest, hi - 1.0 - pos)
            kind = rng.random()
            if length >= 5.0 and kind < 0.75:
                setback, depth = rng.uniform(0.0, 4.0), rng.uniform(8.0, 18.0)
                height = rng.uniform(5.0, 22.0)
                floor, bay = rng.uniform(2.9, 3.6), rng.uniform(2.2, 4.0)
                win = rng.uniform(0.15, 0.3)
                b.box(pos + length / 2, side * (section.building_line + setback + depth / 2),
                      (depth, height, length), 0.0,
                      jitter(rng, FACADE_COLORS[rng.integers(len(FACADE_COLORS))]),
                      jitter(rng, (0.16, 0.2, 0.26), 0.3),
                      (bay, floor, win * bay, (1 - win) * bay, rng.uniform(0.2, 0.35) * floor,
                       rng.uniform(0.7, 0.8) * floor),
                      rng.uniform(0.15, 0.3), reach=FAR_REACH)
            elif kind < 0.9:
                height = rng.uniform(0.8, 2.5)
                brick = jitter(rng, (0.6, 0.35, 0.25) if rng.random() < 0.5 else (0.6,) * 3)
                brick_len = rng.uniform(0.25, 0.5)
                b.box(pos + length / 2, side * (section.building_line + rng.uniform(0.2, 1.0)),
                      (0.3, height, length), 0.0, (0.75, 0.72, 0.68), brick,
                      (brick_len, 0.15, 0.015, brick_len, 0.015, 0.15), 0.2, reach=FAR_REACH,
                      material=props.tile(rng, 'facade') if photo else -1)
            elif photo:
                props.fence(b, pos + length / 2,
                            side * (section.building_line + rng.uniform(0.2, 1.0)), length)
            pos += length + rng.uniform(0.0, 6.0)
        # Street furniture on the strip along the kerb.
        count = rng.poisson(config.clutter_per_100m * CHUNK / 100.0)
        strip = side * (section.kerb + 0.45)
        last = -np.inf
        for s in np.sort(rng.uniform(lo + 1.0, hi - 1.0, count)):
            if s - last < 2.5:
                continue
            last = s
            if photo:
                props.furniture(b, s, strip, side)
                continue
            kind = rng.random()
            if kind < 0.4:  # street light
                b.box(s, strip, (0.18, rng.uniform(5.0, 8.0), 0.18), 0.0,
                      jitter(rng, (0.45, 0.47, 0.5)), noise=0.15)
            elif kind < 0.7:  # tree: trunk and crown
                trunk = rng.uniform(2.2, 3.5)
                b.box(s, strip, (0.3, trunk, 0.3), 0.0, jitter(rng, (0.35, 0.25, 0.15)),
                      noise=0.3)
                crown = rng.uniform(2.2, 3.2)
                b.box(s, strip, (crown, rng.uniform(2.0, 3.5), crown), trunk - 0.2,
                      jitter(rng, (0.2, 0.4, 0.12), 0.2), noise=0.6, yaw=rng.uniform(0, 1.5))
            elif kind < 0.85:  # bin
                b.box(s, strip, (0.6, 1.1, 0.6), 0.0, jitter(rng, (0.2, 0.35, 0.25), 0.3),
                      noise=0.2, yaw=rng.uniform(-0.3, 0.3))
            else:  # bollard or sign post
                b.box(s, strip, (0.15, rng.uniform(0.8, 2.6), 0.15), 0.0,
                      jitter(rng, (0.7, 0.7, 0.7), 0.2), noise=0.1)
        # Parked cars on the parking strip.
        count = rng.poisson(config.parked_cars_per_100m * CHUNK / 100.0)
        lane_d = side * (section.carriageway + section.parking / 2 + 0.05)
        last = -np.inf
        for s in np.sort(rng.uniform(lo + 3.0, hi - 3.0, count)):
            if s - last < 5.8:
                continue
            last = s
            (props.car if photo else add_car)(
                b, s, lane_d, rng.normal(0.0, 0.03) + (math.pi if rng.random() < 0.3 else 0))
        if photo:
            props.kerbs(b, lo, hi, side * section.kerb)
    return b.table()


class Lane(NamedTuple):
    """A lane of moving objects: lateral offset d (metres), direction along the road (+1 / -1),
    and whether it carries cars (else pedestrians)."""

    d: float
    direction: int
    is_car: bool


def lane_layout(config: SynthConfig, section: CrossSection,
                rng: np.random.Generator) -> tuple[list[Lane], LaneSpeed]:
    """The lanes of moving objects and their speeds: the traffic lanes except the camera's,
    and four walking slots on each sidewalk (alternating directions)."""
    lanes = []
    if config.lanes_per_direction == 2:
        lanes.append(Lane(section.lane_centre(1), 1, True))
    for k in range(config.lanes_per_direction):
        lanes.append(Lane(-section.lane_centre(k), -1, True))
    for side in (-1, 1):
        for j in range(4):
            lanes.append(Lane(side * (section.kerb + 1.15 + 0.62 * j), 1 - 2 * (j % 2), False))
    cars = np.array([lane.is_car for lane in lanes])
    mean = np.where(cars, rng.uniform(6.0, 14.0, len(lanes)), rng.uniform(0.8, 1.7, len(lanes)))
    speed = LaneSpeed(mean, mean * rng.uniform(0.0, 0.25, len(lanes)),
                      rng.uniform(0.1, 0.5, len(lanes)), rng.uniform(0, 2 * math.pi, len(lanes)))
    return lanes, speed


def moving_chunk(rng: np.random.Generator, chunk: int, lane: int, lane_info: Lane,
                 config: SynthConfig) -> BoxTable:
    """Objects of lane `lane` whose arc length at time 0 falls in the chunk."""
    d, direction, is_car = lane_info
    b = BoxBuilder(rng)
    lo, hi = chunk * CHUNK, (chunk + 1) * CHUNK
    density = config.moving_cars_per_100m if is_car else config.pedestrians_per_100m
    gap = 7.5 if is_car else 1.2
    last = -np.inf
    for s in np.sort(rng.uniform(lo + gap / 2, hi - gap / 2, rng.poisson(density * CHUNK / 100))):
        if s - last < gap:
            continue
        last = s
        yaw = 0.0 if direction > 0 else math.pi
        photo = config.look == 'photo'
        if is_car:
            (props.car if photo else add_car)(b, s, d + rng.normal(0.0, 0.1), yaw, lane,
                                              direction)
        else:
            (props.pedestrian if photo else add_pedestrian)(b, s, d, yaw, lane, direction)
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

    def __init__(self, config: SynthConfig, path: CameraPath | AgilePath,
                 section: CrossSection) -> None:
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
                table = static_chunk(rng, chunk, self.config, self.section, self.path.road)
            else:
                table = moving_chunk(rng, chunk, lane, self.lanes[lane], self.config)
            self._cache[key] = table
            if len(self._cache) > 2048:
                self._cache.popitem(last=False)
        return table

    def looks_back(self, i: int) -> bool:
        """Whether frame i (or i - 1, whose objects frame i's flow refers to) looks far enough
        off the road's forward direction to see beyond BEHIND metres behind the camera."""
        return bool(self.path.looks_back[max(i - 1, 0):i + 1].any())

    def _behind(self, i: int) -> float:
        return FAR_REACH if self.looks_back(i) else BEHIND

    def _window(self, i: int) -> tuple[float, float]:
        s = float(self.path.s[i])
        return s - self._behind(i), s + FAR_REACH

    def _positions(self, boxes: BoxTable, t: float) -> np.ndarray:
        s = boxes.s.copy()
        moving = boxes.lane >= 0
        s[moving] += boxes.direction[moving] * self.speed.travel(boxes.lane[moving], t)
        return s

    def _inside(self, boxes: BoxTable, s: np.ndarray, i: int, behind: float) -> np.ndarray:
        cam = self.path.s[i]
        if behind == BEHIND:
            return (s >= cam - BEHIND) & (s <= cam + boxes.reach)
        # Looking back: boxes are shown as far behind as they would be ahead.
        return (s >= cam - np.minimum(boxes.reach, behind)) & (s <= cam + boxes.reach)

    def scene(self, i: int) -> Scene:
        """Boxes shown at frame i with their poses at frames i and i - 1."""
        t = i / self.config.fps
        lo, hi = self._window(i)
        tables = [self._chunk((-1, c)) for c in range(int(lo // CHUNK), int(hi // CHUNK) + 1)]
        for lane in range(len(self.lanes)):
            shift = self.lanes[lane].direction * float(self.speed.travel(np.array([lane]), t)[0])
            a, b = lo - shift, hi - shift
            tables += [self._chunk((lane, c)) for c in range(int(a // CHUNK), int(b // CHUNK) + 1)]
        boxes = BoxTable.concat(tables)
        s = self._positions(boxes, t)
        behind = self._behind(i)
        keep = self._inside(boxes, s, i, behind)
        boxes, s = boxes.take(keep), s[keep]
        pose = self.box_poses(boxes, s)
        moving = boxes.lane >= 0
        if i == 0:
            return Scene(boxes, pose, pose, moving, np.ones(len(boxes), bool))
        s_prev = self._positions(boxes, (i - 1) / self.config.fps)
        pose_prev = pose.copy()
        pose_prev[moving] = self.box_poses(boxes.take(moving), s_prev[moving])
        return Scene(boxes, pose, pose_prev, moving, self._inside(boxes, s_prev, i - 1, behind))

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
