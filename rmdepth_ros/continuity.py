"""When the Estimator's temporal state must reset: the stream's continuity rules.

No ROS here. Motion, flow and masks compare a frame with the previous one; that comparison is
only meaningful when the two are consecutive frames of one camera. `continuity_break` names the
first rule a new frame breaks, or returns None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PreviousFrame:
    """What the Estimator keeps of the last frame it processed."""

    image: torch.Tensor       # (1, 3, h, w) network input
    timestamp: float          # seconds
    size: tuple[int, int]     # (H, W) of the input image
    intrinsics: np.ndarray    # (3, 3) of the input image


def continuity_break(previous: PreviousFrame | None, size: tuple[int, int],
                     intrinsics: np.ndarray, timestamp: float, skipped: list[float],
                     max_frame_gap: float) -> str | None:
    """Why a frame of `size` (H, W), K `intrinsics` and `timestamp` (s) cannot follow
    `previous`, or None.

    skipped: stamps of the frames that arrived in between unprocessed; gaps are measured
    between consecutive arrivals, so skipped frames bridge the interval.
    """
    if previous is None:
        return None
    if timestamp == previous.timestamp:
        return f'time did not advance (two frames stamped {timestamp:.3f} s)'
    arrivals = [previous.timestamp, *skipped, timestamp]
    for earlier, later in zip(arrivals[:-1], arrivals[1:], strict=True):
        if later < earlier:
            return f'time went backwards ({later:.3f} s after {earlier:.3f} s)'
        if later - earlier > max_frame_gap:
            return f'time gap {later - earlier:.3f} s > max_frame_gap {max_frame_gap:.3f} s'
    if size != previous.size:
        return (f'image size changed from {previous.size[1]}x{previous.size[0]} to '
                f'{size[1]}x{size[0]}')
    if not np.allclose(intrinsics, previous.intrinsics, rtol=1e-6, atol=1e-9):
        return 'intrinsics changed'
    return None
