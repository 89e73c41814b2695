"""Oriented boxes, the only solid objects of the synthetic world, and the composite objects
built from them (cars, pedestrians).

A box is described in its object's frame (x right, y down, z forward, origin on the ground) and
placed by the object's road coordinates (s, d) and a yaw relative to the road (`synth_road`).
Its appearance is a base colour, a pattern of rectangles in a second colour on its vertical
faces (windows, bands), a noise amplitude and a texture offset (`synth_texture`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAR_REACH = 260.0  # buildings and walls are shown this far ahead of the camera, metres
NEAR_REACH = 160.0  # smaller objects are shown this far ahead
NO_PATTERN = (1e4, 1e4, 0.0, 0.0, 0.0, 0.0)
_FIELDS = ('s', 'd', 'yaw', 'offset', 'half', 'lane', 'direction', 'reach', 'color', 'color2',
           'pattern', 'noise', 'tex', 'material')


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
    material: (N,) int photo-texture tile (`synth_photo`) of the 'photo' look, -1 = none.
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
    material: np.ndarray

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
        u = (np.minimum(p[:, 3], p[:, 0]) - np.maximum(p[:, 2], 0.0)) / p[:, 0]
        v = (np.minimum(p[:, 5], p[:, 1]) - np.maximum(p[:, 4], 0.0)) / p[:, 1]
        return np.clip(np.stack([u, v], 1), 0.0, 1.0)

    def take(self, index: np.ndarray) -> BoxTable:
        """Rows `index` (int or bool array)."""
        return BoxTable(*(getattr(self, f)[index] for f in _FIELDS))

    @staticmethod
    def concat(tables: list[BoxTable]) -> BoxTable:
        """All rows of `tables`, in order."""
        return BoxTable(*(np.concatenate([getattr(t, f) for t in tables]) for f in _FIELDS))


class BoxBuilder:
    """Collects boxes row by row."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng  # draws the object shapes and colours
        self.rows: list[tuple] = []

    def box(self, s: float, d: float, size: tuple[float, float, float], bottom: float,
            color, color2=(0.0, 0.0, 0.0), pattern=NO_PATTERN, noise: float = 0.2,
            yaw: float = 0.0, forward: float = 0.0, lane: int = -1, direction: int = 1,
            reach: float = NEAR_REACH, material: int = -1, side: float = 0.0) -> None:
        """Add a box of `size` (width, height, length) metres whose base is `bottom` metres above
        the ground, shifted `forward` metres along the object's z axis (and `side` metres along
        its x axis); `material`: photo-texture tile, -1 = none."""
        w, h, length = size
        self.rows.append((s, d, yaw, (side, -bottom - h / 2, forward),
                          (w / 2, h / 2, length / 2), lane, direction, reach, color, color2,
                          pattern, noise, self.rng.uniform(0.0, 400.0, 2), material))

    def table(self) -> BoxTable:
        """All boxes added so far."""
        def column(i: int, width: int | None = None, dtype=np.float64) -> np.ndarray:
            values = np.array([row[i] for row in self.rows], dtype=dtype)
            return values.reshape(-1, width) if width else values.reshape(-1)

        f32 = np.float32
        return BoxTable(column(0), column(1), column(2), column(3, 3), column(4, 3),
                        column(5, dtype=int), column(6, dtype=int), column(7),
                        column(8, 3, f32), column(9, 3, f32), column(10, 6, f32),
                        column(11, dtype=f32), column(12, 2, f32), column(13, dtype=int))


def jitter(rng: np.random.Generator, rgb: tuple[float, float, float],
           amount: float = 0.08) -> tuple[float, ...]:
    """`rgb` with each channel scaled by a random factor in [1 - amount, 1 + amount]."""
    return tuple(float(np.clip(c * rng.uniform(1 - amount, 1 + amount), 0.0, 1.0)) for c in rgb)


FACADE_COLORS = ((0.80, 0.72, 0.60), (0.62, 0.36, 0.28), (0.75, 0.75, 0.72), (0.85, 0.80, 0.55),
                 (0.55, 0.58, 0.62), (0.90, 0.86, 0.80), (0.65, 0.50, 0.40))
CAR_COLORS = ((0.75, 0.75, 0.78), (0.12, 0.12, 0.14), (0.60, 0.08, 0.08), (0.15, 0.25, 0.55),
              (0.90, 0.90, 0.88), (0.35, 0.38, 0.40), (0.20, 0.40, 0.25), (0.80, 0.60, 0.20))
CLOTH_COLORS = ((0.15, 0.15, 0.2), (0.5, 0.1, 0.1), (0.2, 0.3, 0.6), (0.7, 0.7, 0.65),
                (0.3, 0.45, 0.3), (0.6, 0.5, 0.3))
GLASS = (0.10, 0.13, 0.17)


def add_car(b: BoxBuilder, s: float, d: float, yaw: float, lane: int = -1,
            direction: int = 1) -> None:
    """A car: body with a dark lower band (wheels) and a cabin with windows."""
    rng = b.rng
    width, length = rng.uniform(1.65, 1.9), rng.uniform(3.8, 4.9)
    body_h, cabin_h = rng.uniform(0.75, 0.95), rng.uniform(0.45, 0.6)
    paint = jitter(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))])
    kw = {'yaw': yaw, 'lane': lane, 'direction': direction}
    b.box(s, d, (width, body_h, length), 0.0, paint, (0.05, 0.05, 0.05),
          (1e4, 1e4, -1e3, 1e3, 0.72 * body_h, 1e3), 0.1, **kw)
    cabin_len = length * rng.uniform(0.45, 0.6)
    b.box(s, d, (width * 0.9, cabin_h, cabin_len), body_h, paint, GLASS,
          (cabin_len / 2, 1e4, 0.035 * cabin_len, 0.465 * cabin_len, 0.12 * cabin_h, 1e3), 0.1,
          forward=-length * rng.uniform(0.0, 0.1), **kw)


def add_pedestrian(b: BoxBuilder, s: float, d: float, yaw: float, lane: int,
                   direction: int) -> None:
    """A pedestrian: legs and a torso whose top is the head."""
    rng = b.rng
    height = rng.uniform(1.55, 1.9)
    legs = height * 0.47
    kw = {'yaw': yaw, 'lane': lane, 'direction': direction}
    b.box(s, d, (0.34, legs, 0.22), 0.0, jitter(rng, CLOTH_COLORS[rng.integers(6)]),
          noise=0.15, **kw)
    top = height - legs
    skin = jitter(rng, (0.85, 0.65, 0.5), 0.15)
    b.box(s, d, (0.46, top, 0.28), legs, jitter(rng, CLOTH_COLORS[rng.integers(6)]), skin,
          (1e4, 1e4, -1e3, 1e3, -1e3, 0.24), 0.15, **kw)
