"""Classical two-view visual odometry: KLT-tracked corners, essential matrix, `recoverPose`.

The textbook pipeline a user gets without a learned network (our own, with OpenCV's building
blocks): Shi-Tomasi corners of the previous frame are tracked into the current one with
pyramidal Lucas-Kanade (kept only when tracking back lands within a pixel of the start), an
essential matrix is fitted with RANSAC and decomposed (`_decompose`: the small rotation,
the translation sign by cheirality or, when that is ambiguous, by continuity). Two views give
the translation's direction only (unit length); the trajectory metrics fit the scale.
"""

from __future__ import annotations

import cv2
import numpy as np

from rmdepth_ros.evaluation.baselines.flow import to_gray

MAX_CORNERS = 1500
MIN_POINTS = 12
MIN_PARALLAX_PX = 0.3  # median track length below which no motion is measurable
_LK = {'winSize': (21, 21), 'maxLevel': 3,
       'criteria': (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}


def two_view_motion(previous: np.ndarray, current: np.ndarray, intrinsics: np.ndarray,
                    hint: np.ndarray | None = None) -> np.ndarray | None:
    """`T_prev_cur` (4, 4, unit translation) between two uint8 images of one camera, or None
    when too few corners track. Identity when the image does not move (no parallax).

    previous, current: (H, W) gray or (H, W, 3) RGB. intrinsics: (3, 3) pixels.
    hint: the previous frame pair's translation of `T_cur_prev` (see `_decompose`), or None.
    """
    prev, cur = to_gray(previous), to_gray(current)
    corners = cv2.goodFeaturesToTrack(prev, MAX_CORNERS, 0.01, 8, blockSize=7)
    if corners is None or len(corners) < MIN_POINTS:
        return None
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, corners, None, **_LK)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(cur, prev, tracked, None, **_LK)
    good = ((status.ravel() == 1) & (status_back.ravel() == 1)
            & (np.linalg.norm((back - corners).reshape(-1, 2), axis=1) < 1.0))
    p0 = corners.reshape(-1, 2)[good].astype(np.float64)
    p1 = tracked.reshape(-1, 2)[good].astype(np.float64)
    if len(p0) < MIN_POINTS:
        return None
    if np.median(np.linalg.norm(p1 - p0, axis=1)) < MIN_PARALLAX_PX:
        return np.eye(4)
    K = np.asarray(intrinsics, np.float64)
    essential, inliers = cv2.findEssentialMat(p0, p1, K, method=cv2.RANSAC, prob=0.999,
                                              threshold=1.0)
    if essential is None or essential.shape[0] < 3:
        return None
    keep = inliers.ravel().astype(bool)
    R, t = _decompose(essential[:3], p0[keep], p1[keep], K, hint)
    # (R, t): X_cur = R X_prev + t, i.e. T_cur_prev; we return its inverse.
    motion = np.eye(4)
    motion[:3, :3] = R.T
    motion[:3, 3] = -R.T @ t
    return motion


def _in_front(R: np.ndarray, t: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray
              ) -> int:
    """How many point pairs triangulate in front of both cameras for X_cur = R X_prev + t."""
    P0 = K @ np.hstack([np.eye(3), np.zeros((3, 1))])
    P1 = K @ np.hstack([R, t[:, None]])
    X = cv2.triangulatePoints(P0, P1, p0.T, p1.T)  # (4, N) homogeneous
    X = X[:3] / X[3]
    return int(np.sum((X[2] > 0) & ((R @ X + t[:, None])[2] > 0)))


def _decompose(essential: np.ndarray, p0: np.ndarray, p1: np.ndarray, K: np.ndarray,
               hint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(R, unit t) of an essential matrix, chosen for a camera at video rate.

    Of the two rotations, the smaller one (the other, the 'twisted pair', is about 180 deg
    away: no camera turns that much between two video frames). The sign of t by cheirality
    (points in front of both cameras); when that vote is close (little parallax, far points),
    the sign that continues the previous translation `hint` (T_cur_prev's t), if any.
    """
    R1, R2, t = cv2.decomposeEssentialMat(essential)
    R = min((R1, R2), key=lambda r: np.trace(r) * -1.0)  # larger trace = smaller angle
    t = t.ravel() / np.linalg.norm(t)
    plus, minus = _in_front(R, t, p0, p1, K), _in_front(R, -t, p0, p1, K)
    if hint is not None and abs(plus - minus) < 0.5 * max(plus + minus, 1):
        return R, (t if t @ hint >= 0 else -t)
    return R, (t if plus >= minus else -t)


class TwoViewVO:
    """Frame-by-frame wrapper: keeps the previous image; `step` returns `T_prev_cur` or None
    (first frame, size change, or tracking failure)."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._hint: np.ndarray | None = None
        self.failures = 0

    def step(self, image: np.ndarray, intrinsics: np.ndarray) -> np.ndarray | None:
        previous, self._previous = self._previous, to_gray(image)
        if previous is None or previous.shape != self._previous.shape:
            return None
        motion = two_view_motion(previous, self._previous, intrinsics, self._hint)
        self.failures += motion is None
        if motion is not None and np.linalg.norm(motion[:3, 3]) > 0:
            self._hint = -motion[:3, :3].T @ motion[:3, 3]  # t of T_cur_prev
        return motion
