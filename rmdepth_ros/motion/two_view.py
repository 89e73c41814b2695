"""Two-view geometry shared by the classical VO baseline and the hybrid motion source.

numpy / OpenCV only. Corners are tracked with pyramidal Lucas-Kanade and kept only when tracking
back lands near the start; an essential matrix is decomposed into the rotation a video camera
can make between two frames and the translation direction (unit length), with its sign from
cheirality or, when that vote is close, from a hint.
"""

from __future__ import annotations

import cv2
import numpy as np

LK_OPTIONS = {'winSize': (21, 21), 'maxLevel': 3,
              'criteria': (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB or (H, W) gray -> (H, W) uint8 gray (contiguous)."""
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(image)


def track_corners(previous: np.ndarray, current: np.ndarray, max_corners: int,
                  min_distance: float = 8.0, max_back_error: float = 1.0,
                  mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shi-Tomasi corners of `previous` tracked into `current` (both (H, W) uint8 gray).

    mask: (H, W) uint8, corners only where non-zero (None = everywhere).
    Returns (p0, p1), (N, 2) float64 pixel positions in the previous and current image of the
    tracks that succeeded both ways and came back within `max_back_error` pixels.
    """
    corners = cv2.goodFeaturesToTrack(previous, max_corners, 0.01, min_distance, mask=mask,
                                      blockSize=7)
    if corners is None:
        return np.zeros((0, 2)), np.zeros((0, 2))
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, **LK_OPTIONS)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, tracked, None,
                                                    **LK_OPTIONS)
    good = ((status.ravel() == 1) & (status_back.ravel() == 1)
            & (np.linalg.norm((back - corners).reshape(-1, 2), axis=1) < max_back_error))
    return (corners.reshape(-1, 2)[good].astype(np.float64),
            tracked.reshape(-1, 2)[good].astype(np.float64))


def triangulate(R: np.ndarray, t: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray
                ) -> np.ndarray:
    """(N, 3) points in the first camera's frame from pixel pairs (N, 2), for the second camera
    at X_1 = R X_0 + t (linear triangulation; rows with a zero homogeneous part are NaN)."""
    P0 = K @ np.hstack([np.eye(3), np.zeros((3, 1))])
    P1 = K @ np.hstack([R, np.reshape(t, (3, 1))])
    X = cv2.triangulatePoints(P0, P1, p0.T.astype(np.float64), p1.T.astype(np.float64))
    with np.errstate(divide='ignore', invalid='ignore'):
        return (X[:3] / X[3]).T


def in_front(R: np.ndarray, t: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray
             ) -> int:
    """How many point pairs triangulate in front of both cameras for X_1 = R X_0 + t."""
    X = triangulate(R, t, p0, p1, K)
    return int(np.sum((X[:, 2] > 0) & ((X @ R.T + t)[:, 2] > 0)))


def decompose_essential(essential: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray,
                        hint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(R, unit t) with X_1 = R X_0 + t of an essential matrix, chosen for a video camera.

    Of the two rotations, the smaller one (the other, the 'twisted pair', is about 180 deg
    away: no camera turns that much between two video frames). The sign of t by cheirality
    (points in front of both cameras); when that vote is close (little parallax, far points),
    the sign that agrees with `hint` (a translation of the same convention), if any.
    """
    R1, R2, t = cv2.decomposeEssentialMat(essential)
    R = min((R1, R2), key=lambda r: np.trace(r) * -1.0)  # larger trace = smaller angle
    t = t.ravel() / np.linalg.norm(t)
    plus, minus = in_front(R, t, p0, p1, K), in_front(R, -t, p0, p1, K)
    if hint is not None and abs(plus - minus) < 0.5 * max(plus + minus, 1):
        return R, (t if t @ hint >= 0 else -t)
    return R, (t if plus >= minus else -t)


def inverse_motion(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(4, 4) inverse of the transform X_1 = R X_0 + t, i.e. the pose of camera 1 in camera 0."""
    motion = np.eye(4)
    motion[:3, :3] = R.T
    motion[:3, 3] = -R.T @ t
    return motion
