"""Camera-motion baselines that look at no image: zero motion and straight ahead.

Both return `T_prev_cur` (docs/conventions.md). Monocular motion has no scale; the trajectory
metrics align every method, the system included, with the same per-snippet least-squares scale
or sim(3) fit, so a unit step forward stands for 'constant speed, no turning'.
"""

from __future__ import annotations

import numpy as np


def zero_motion() -> np.ndarray:
    """(4, 4) identity: the camera never moves."""
    return np.eye(4)


def straight_ahead(step: float = 1.0) -> np.ndarray:
    """(4, 4) `T_prev_cur` of a camera that moved `step` along its optical axis (+z), no
    rotation: constant velocity straight ahead."""
    motion = np.eye(4)
    motion[2, 3] = step
    return motion
