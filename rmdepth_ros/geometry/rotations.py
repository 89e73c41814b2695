"""Rotation helpers shared by the motion sources and the evaluation (numpy only)."""

from __future__ import annotations

import numpy as np


def rotation_angle_deg(R: np.ndarray) -> float:
    """Angle (degrees) of a rotation matrix (3, 3), computed in float64.

    atan2(|skew part| / 2, (trace - 1) / 2): the sine comes from the antisymmetric part, so
    small angles keep full precision (arccos of the trace of a float32 matrix floors near
    0.02 deg, the size of the per-frame errors we report).
    """
    R = np.asarray(R, np.float64)
    skew = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    return float(np.degrees(np.arctan2(np.linalg.norm(skew) / 2.0, (np.trace(R) - 1.0) / 2.0)))
