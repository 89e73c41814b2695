"""The one sequence interface shared by the synthetic world, the bag reader and dataset readers.

Conventions (units, frames, flow sign) are in docs/conventions.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


class DataError(Exception):
    """Bad input data: the message names the file and the problem."""


@dataclass
class Frame:
    """One frame of a sequence; ground-truth fields are None when the source has none.

    image: (H, W, 3) uint8 RGB, or (H, W) uint8 gray.
    intrinsics: (3, 3) float64, pixels, for `image`'s resolution.
    timestamp: seconds.
    depth: (H, W) float32 metres (optical z); +inf = sky / no surface, NaN = unknown.
    pose: (4, 4) float64 camera-to-world.
    flow: (H, W, 2) float32 pixels, previous frame -> this frame on this frame's grid.
    flow_valid: (H, W) bool, False where the point was occluded or out of view before.
    motion_mask: (H, W) bool, True on independently moving objects.
    object_motion: (H, W, 3) float32 metres, current camera frame (docs/conventions.md).
    index: position in the sequence.
    """

    image: np.ndarray
    intrinsics: np.ndarray
    timestamp: float
    depth: np.ndarray | None = None
    pose: np.ndarray | None = None
    flow: np.ndarray | None = None
    flow_valid: np.ndarray | None = None
    motion_mask: np.ndarray | None = None
    object_motion: np.ndarray | None = None
    index: int = 0


class Sequence:
    """A finite, ordered sequence of frames. Subclasses implement `__len__` and `__getitem__`."""

    name: str = 'sequence'

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Frame:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self[i]
