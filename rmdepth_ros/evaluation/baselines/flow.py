"""Optical-flow baselines: zero flow, and OpenCV's DIS (dense inverse search) in our convention.

Our flow lives on the CURRENT frame's grid: the point at x now was at x - flow(x) in the
previous frame (docs/conventions.md). `DISOpticalFlow.calc(I0, I1)` returns f on I0's grid with
I0(x) ~ I1(x + f(x)). Run with I0 = current and I1 = previous, x + f(x) is where the point was
before, so our flow is -f. (Running previous -> current would give flow on the wrong grid.)
"""

from __future__ import annotations

import cv2
import numpy as np

from rmdepth_ros.motion.two_view import to_gray


def zero_flow(shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) float32 zeros: nothing moves in the image."""
    return np.zeros((*shape[:2], 2), np.float32)


class DisFlow:
    """OpenCV DIS optical flow (medium preset), returned in our convention."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> None:
        self._dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """previous, current: uint8 images of one size (RGB or gray) -> (H, W, 2) float32
        pixels on the current grid (module docstring)."""
        if previous.shape[:2] != current.shape[:2]:
            raise ValueError(f'DIS flow needs two images of one size, got {previous.shape[:2]} '
                             f'and {current.shape[:2]}')
        backward = self._dis.calc(to_gray(current), to_gray(previous), None)
        return -backward.astype(np.float32)
