"""Dense optical flow for the geometry stage: OpenCV DIS in the project's convention.

Our flow lives on the CURRENT frame's grid: the point at x now was at x - flow(x) in the previous
frame (docs/conventions.md). DIS computes f on I0's grid with I0(x) ~ I1(x + f(x)); run current
-> previous, our flow is -f. The backward field (previous -> current) gives a forward-backward
check: where following the flow there and back does not return to x, the flow is unreliable
(occlusions, flat or repeated texture), whatever its photometric fit.

An initial field (`initial`, our convention) - the rigid flow that the previous frame's depth
and the camera motion predict - lets DIS start near the answer where the image alone is
ambiguous; DIS still refines it from the images.
"""

from __future__ import annotations

import cv2
import numpy as np

PRESETS = {'ultrafast': cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
           'fast': cv2.DISOPTICAL_FLOW_PRESET_FAST,
           'medium': cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


class DenseFlow:
    """DIS flow between consecutive gray frames, with a forward-backward error."""

    def __init__(self, preset: str = 'medium', check_preset: str | None = None) -> None:
        """preset: DIS preset of the flow; check_preset: of the backward field that checks it
        (default: the same)."""
        check_preset = check_preset or preset
        for name in (preset, check_preset):
            if name not in PRESETS:
                raise ValueError(f"flow preset must be one of {', '.join(PRESETS)}, "
                                 f"got '{name}'")
        # OpenCV's DIS keeps using an input field once it was given one (its 'use the input
        # flow' switch never turns off again): calls with a starting field get their own
        # instance, so that the plain calls stay plain.
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])
        self._dis_started = cv2.DISOpticalFlow_create(PRESETS[preset])
        self._dis_check = cv2.DISOpticalFlow_create(PRESETS[check_preset])
        self._grid: tuple[np.ndarray, np.ndarray] | None = None  # pixel columns, rows

    def flow(self, previous: np.ndarray, current: np.ndarray,
             initial: np.ndarray | None = None) -> np.ndarray:
        """previous, current: (H, W) uint8 gray -> (H, W, 2) float32 flow on the current grid
        (our convention). initial: (H, W, 2) float32 starting field in our convention, finite
        everywhere, or None."""
        if previous.shape != current.shape:
            raise ValueError(f'dense flow needs two images of one size, got {previous.shape} '
                             f'and {current.shape}')
        if initial is None:
            return -self._dis.calc(current, previous, None)
        # DIS starts from a same-size float32 (H, W, 2) field passed in
        start = np.ascontiguousarray(-initial, dtype=np.float32)
        return -self._dis_started.calc(current, previous, start)

    def forward_field(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32 DIS flow previous -> current on the previous grid (OpenCV's
        convention), the check's other direction. Needs only the images: it can run while the
        networks do."""
        return self._dis_check.calc(previous, current, None)

    def backward_error(self, previous: np.ndarray, current: np.ndarray, flow: np.ndarray,
                       forward: np.ndarray | None = None) -> np.ndarray:
        """(H, W) float32 pixels: how far from x the previous -> current flow, read at x - flow,
        brings each current pixel x back (0 for a perfectly consistent pair). forward: the
        `forward_field` of the pair when it was computed already."""
        if forward is None:
            forward = self.forward_field(previous, current)
        if self._grid is None or self._grid[0].shape != current.shape:
            v, u = np.mgrid[0:current.shape[0], 0:current.shape[1]].astype(np.float32)
            self._grid = (u, v)
        u, v = self._grid
        map_x, map_y = u - flow[..., 0], v - flow[..., 1]
        back = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        # x - flow + back(x - flow) should land on x again
        return np.hypot(back[..., 0] - flow[..., 0], back[..., 1] - flow[..., 1])
