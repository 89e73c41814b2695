"""Ego-car body regions of the DDAD sample (`../shared/data/ddad_sample`), as image polygons.

Several DDAD cameras see the body of the car that carries them; LiDAR points of the road behind
the body are projected onto it, so depth there is wrong and must not be scored.

How the polygons were found: every one of the 27 images was viewed downscaled (0.5x, with a
100 px grid and the depth pixels drawn on top) and the visible body outline was traced per
camera (the cameras are rigid on the car, so the outline is the same in the three samples of a
scene; scene_01 and scene_02 are different cars). Each polygon is conservative: it lies 30-50 px
outside the traced outline, towards the scene, so a little road / sky next to the body is lost
rather than a body pixel kept. CAMERA_01 (front) sees no body in either scene. Coordinates are
full-resolution (1936x1216) pixels, (x, y), OpenCV pixel centres.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

DDAD_SIZE = (1936, 1216)  # (width, height)
_W, _H = DDAD_SIZE


def _below(*points: tuple[int, int]) -> list[tuple[int, int]]:
    """The region below a polyline crossing the image from x = 0 to x = W - 1."""
    return [*points, (_W - 1, _H - 1), (0, _H - 1)]


# (scene, camera) -> polygons, each a list of (x, y) vertices.
BODY_POLYGONS: dict[tuple[str, str], list[list[tuple[int, int]]]] = {
    # White car, bottom edge: body top at y 1085 (05) / 1055 (06) in the middle.
    ('scene_01', 'CAMERA_05'): [_below((0, 1050), (_W - 1, 1050))],
    ('scene_01', 'CAMERA_06'): [_below((0, 1020), (_W - 1, 1020))],
    # Red car, bottom edge: body top at y 1035 (05), 1060 (06); bonnet of the rear camera 09
    # reaches up to y 960 in the middle, and its top rows show the roof edge.
    ('scene_02', 'CAMERA_05'): [_below((0, 1000), (_W - 1, 1000))],
    ('scene_02', 'CAMERA_06'): [_below((0, 1030), (_W - 1, 1030))],
    ('scene_02', 'CAMERA_09'): [_below((0, 1040), (500, 960), (1000, 920), (1500, 940),
                                       (_W - 1, 1000)),
                                [(0, 0), (_W - 1, 0), (_W - 1, 50), (0, 50)]],
    # Rear-left: body rises to the left along a diagonal (y 790 at x 0, 1170 at the right
    # edge); the roof pillar fills the top-left corner (edge from (0, 270) to (480, 0)).
    ('scene_02', 'CAMERA_07'): [_below((0, 760), (400, 815), (800, 870), (1000, 930),
                                       (1200, 990), (1500, 1060), (_W - 1, 1140)),
                                [(0, 0), (540, 0), (0, 310)]],
    # Rear-right: the mirror image (y 1180 at x 0, 770 at the right edge); the pillar fills
    # the top-right corner (edge from (1270, 0) down to (1936, 300)).
    ('scene_02', 'CAMERA_08'): [_below((0, 1150), (300, 1080), (500, 1030), (700, 970),
                                       (1000, 870), (1400, 785), (_W - 1, 740)),
                                [(1230, 0), (_W - 1, 0), (_W - 1, 350), (1850, 300),
                                 (1650, 190), (1450, 90)]],
}

_NAME = re.compile(r'^(scene_\d+)_(CAMERA_\d+)_')


def body_key(name: str) -> tuple[str, str] | None:
    """'scene_02_CAMERA_07_1561...' -> ('scene_02', 'CAMERA_07'); None for other names."""
    match = _NAME.match(name)
    return (match.group(1), match.group(2)) if match else None


def ddad_body_mask(name: str, size: tuple[int, int]) -> np.ndarray | None:
    """(H, W) bool, True on the ego body, for DDAD file stem `name`; None when none is known.

    size: (width, height) of the image; polygons are for 1936x1216 and are scaled to `size`.
    Names with a DDAD pattern but no entry (e.g. CAMERA_01) get an all-False mask.
    """
    key = body_key(name)
    if key is None:
        return None
    width, height = size
    mask = np.zeros((height, width), np.uint8)
    scale = np.array([width / _W, height / _H])
    for polygon in BODY_POLYGONS.get(key, []):
        vertices = np.round(np.asarray(polygon, np.float64) * scale).astype(np.int32)
        cv2.fillPoly(mask, [vertices], 1)
    return mask.astype(bool)
