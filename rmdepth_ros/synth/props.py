"""Objects of the synthetic world's 'photo' look, with the shapes and sizes of the real ones.

Cars stand on four wheels with a gap under the body (hatchbacks, saloons, vans), pedestrians
have two legs, a torso and a head, trees a bark trunk and a crown of overlapping leaf boxes,
street lights an arm over the road, signs a plate on a post; kerb stones line the sidewalk and
fences fill some gaps between buildings. Each is a few oriented boxes (`synth_boxes`); the
photo textures are tiles of `synth_photo`. The 'classic' look keeps `synth_boxes.add_car` and
friends unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from rmdepth_ros.synth.boxes import (
    CAR_COLORS,
    CLOTH_COLORS,
    GLASS,
    BoxBuilder,
    jitter,
)
from rmdepth_ros.synth.photo import library

KERB_HEIGHT = 0.13  # metres
KERB_SEGMENT = 5.0  # metres of kerb per box
TYRE = (0.04, 0.04, 0.045)
SIGN_COLORS = ((0.1, 0.2, 0.6), (0.7, 0.1, 0.1), (0.85, 0.85, 0.85), (0.8, 0.65, 0.1),
               (0.1, 0.4, 0.2))


def tile(rng: np.random.Generator, group: str) -> int:
    """A random photo-texture tile of material `group`."""
    tiles = library().groups[group]
    return int(tiles[rng.integers(len(tiles))])


def car(b: BoxBuilder, s: float, d: float, yaw: float, lane: int = -1,
        direction: int = 1) -> None:
    """A car on four wheels: body (clear of the ground), cabin with windows, wheels."""
    rng = b.rng
    kind = rng.random()
    van = kind > 0.85
    width = rng.uniform(1.7, 2.0) if van else rng.uniform(1.65, 1.85)
    length = rng.uniform(4.6, 5.4) if van else rng.uniform(3.8, 4.9)
    clearance = rng.uniform(0.18, 0.28)
    body_h = rng.uniform(1.5, 1.9) if van else rng.uniform(0.5, 0.65)
    paint = jitter(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))])
    kw = {'yaw': yaw, 'lane': lane, 'direction': direction}
    b.box(s, d, (width, body_h, length), clearance, paint, (0.05, 0.05, 0.05),
          (1e4, 1e4, -1e3, 1e3, body_h - 0.12, 1e3), 0.08, **kw)
    wheel = rng.uniform(0.58, 0.7)
    axle = length / 2 - rng.uniform(0.7, 0.95)
    for ahead in (-axle, axle):
        for side in (-1.0, 1.0):
            b.box(s, d, (0.22, wheel, wheel), 0.0, TYRE, noise=0.1, forward=ahead,
                  side=side * (width / 2 - 0.13), **kw)
    if van:
        b.box(s, d, (width * 0.98, 0.5, 0.05), clearance + body_h - 0.75, GLASS, noise=0.05,
              forward=length / 2 - 0.02, **kw)  # windscreen band at the front
        return
    cabin_h = rng.uniform(0.45, 0.6)
    cabin_len = length * (rng.uniform(0.55, 0.7) if kind < 0.4 else rng.uniform(0.45, 0.55))
    b.box(s, d, (width * 0.88, cabin_h, cabin_len), clearance + body_h, paint, GLASS,
          (cabin_len / 2, 1e4, 0.035 * cabin_len, 0.465 * cabin_len, 0.1 * cabin_h, 1e3), 0.08,
          forward=-length * rng.uniform(0.0, 0.12), **kw)


def pedestrian(b: BoxBuilder, s: float, d: float, yaw: float, lane: int,
               direction: int) -> None:
    """A pedestrian: two legs, a torso with arms, a head."""
    rng = b.rng
    height = rng.uniform(1.55, 1.9)
    legs, head = height * 0.47, height * 0.13
    trousers = jitter(rng, CLOTH_COLORS[rng.integers(len(CLOTH_COLORS))])
    kw = {'yaw': yaw, 'lane': lane, 'direction': direction}
    stride = rng.uniform(-0.2, 0.2)
    for side, ahead in ((-0.09, stride), (0.09, -stride)):
        b.box(s, d, (0.14, legs, 0.16), 0.0, trousers, noise=0.15, forward=ahead, side=side,
              **kw)
    torso = height - legs - head
    b.box(s, d, (0.5, torso, 0.26), legs, jitter(rng, CLOTH_COLORS[rng.integers(6)]),
          noise=0.15, **kw)
    b.box(s, d, (0.19, head, 0.21), legs + torso, jitter(rng, (0.8, 0.6, 0.45), 0.25),
          (0.15, 0.1, 0.08), (1e4, 1e4, -1e3, 1e3, -1e3, 0.35 * head), 0.1, **kw)


def furniture(b: BoxBuilder, s: float, strip: float, side: float) -> None:
    """One piece of street furniture at arc length s on the strip at lateral offset `strip`
    (side: -1 left, +1 right of the road)."""
    rng = b.rng
    kind = rng.random()
    if kind < 0.3:  # street light with an arm over the road
        height = rng.uniform(5.0, 8.0)
        grey = jitter(rng, (0.45, 0.47, 0.5))
        b.box(s, strip, (0.16, height, 0.16), 0.0, grey, noise=0.15)
        arm = rng.uniform(1.0, 2.0)
        b.box(s, strip - side * arm / 2, (arm, 0.12, 0.12), height - 0.12, grey, noise=0.1)
        b.box(s, strip - side * arm, (0.5, 0.15, 0.25), height - 0.27, (0.8, 0.8, 0.75),
              noise=0.05)
    elif kind < 0.6:  # tree: trunk and a crown of leaf boxes
        trunk = rng.uniform(2.0, 3.5)
        b.box(s, strip, (0.3, trunk + 0.5, 0.3), 0.0, (1.0, 1.0, 1.0), noise=0.1,
              material=tile(rng, 'bark'))
        crown = rng.uniform(2.5, 4.5)
        for _ in range(int(rng.integers(2, 4))):
            w = crown * rng.uniform(0.6, 0.9)
            h = crown * rng.uniform(0.5, 0.8)
            b.box(s + rng.uniform(-0.4, 0.4) * crown, strip + rng.uniform(-0.3, 0.3) * crown,
                  (w, h, w), trunk + rng.uniform(-0.3, 0.6) * crown * 0.5,
                  jitter(rng, (1.0, 1.0, 1.0), 0.25), noise=0.3, yaw=rng.uniform(0, 1.5),
                  material=tile(rng, 'leaves'))
    elif kind < 0.75:  # traffic sign: post and plate facing the traffic
        height = rng.uniform(2.0, 2.8)
        b.box(s, strip, (0.07, height, 0.07), 0.0, (0.6, 0.6, 0.62), noise=0.1)
        plate = rng.uniform(0.5, 0.8)
        b.box(s, strip, (plate, plate, 0.04), height - 0.05,
              jitter(rng, SIGN_COLORS[rng.integers(len(SIGN_COLORS))]), (0.9, 0.9, 0.9),
              (1e4, 1e4, -1e3, 1e3, -1e3, 0.08 * plate), 0.05)
    elif kind < 0.87:  # bin or electrical cabinet
        w, h = (0.6, 1.1) if rng.random() < 0.6 else (0.9, 1.4)
        b.box(s, strip, (w, h, 0.5), 0.0, jitter(rng, (0.3, 0.35, 0.3), 0.4), noise=0.2,
              yaw=rng.uniform(-0.2, 0.2))
    else:  # bollard or post
        b.box(s, strip, (0.15, rng.uniform(0.8, 1.3), 0.15), 0.0,
              jitter(rng, (0.7, 0.7, 0.7), 0.2), noise=0.1)


def fence(b: BoxBuilder, s: float, d: float, length: float) -> None:
    """A fence or hedge of `length` metres along the road, centred at (s, d)."""
    rng = b.rng
    if rng.random() < 0.4:  # hedge
        b.box(s, d, (rng.uniform(0.6, 1.2), rng.uniform(1.0, 2.2), length), 0.0,
              jitter(rng, (0.8, 1.0, 0.8), 0.2), noise=0.4, material=tile(rng, 'leaves'))
        return
    slat = rng.uniform(0.08, 0.2)
    b.box(s, d, (0.05, rng.uniform(1.0, 2.0), length), 0.0,
          jitter(rng, (0.45, 0.35, 0.25) if rng.random() < 0.5 else (0.35, 0.37, 0.4), 0.3),
          (0.08, 0.08, 0.08), (slat, 1e4, 0.0, 0.15 * slat, -1e3, 1e3), 0.2)


def kerbs(b: BoxBuilder, lo: float, hi: float, d: float) -> None:
    """Kerb stones from arc length lo to hi at lateral offset d (their inner edge)."""
    rng = b.rng
    stone = tile(rng, 'paving')
    side = math.copysign(1.0, d)
    pos = lo
    while pos < hi - 0.5:
        length = min(KERB_SEGMENT, hi - pos)
        b.box(pos + length / 2, d + side * 0.125, (0.25, KERB_HEIGHT, length - 0.02), 0.0,
              (0.85, 0.85, 0.85), noise=0.2, material=stone)
        pos += length
