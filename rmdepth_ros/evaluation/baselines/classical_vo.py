"""Classical two-view visual odometry: KLT-tracked corners, essential matrix, `recoverPose`.

The textbook pipeline a user gets without a learned network (our own, with OpenCV's building
blocks): Shi-Tomasi corners of the previous frame are tracked into the current one with
pyramidal Lucas-Kanade (kept only when tracking back lands within a pixel of the start), an
essential matrix is fitted with RANSAC and decomposed (`motion.two_view.decompose_essential`:
the small rotation, the translation sign by cheirality or, when that is ambiguous, by
continuity). Two views give the translation's direction only (unit length); the trajectory
metrics fit the scale.
"""

from __future__ import annotations

import cv2
import numpy as np

from rmdepth_ros.motion.two_view import (
    decompose_essential,
    inverse_motion,
    to_gray,
    track_corners,
)

MAX_CORNERS = 1500
MIN_POINTS = 12
MIN_PARALLAX_PX = 0.3  # median track length below which no motion is measurable


def two_view_motion(previous: np.ndarray, current: np.ndarray, intrinsics: np.ndarray,
                    hint: np.ndarray | None = None) -> np.ndarray | None:
    """`T_prev_cur` (4, 4, unit translation) between two uint8 images of one camera, or None
    when too few corners track. Identity when the image does not move (no parallax).

    previous, current: (H, W) gray or (H, W, 3) RGB. intrinsics: (3, 3) pixels.
    hint: the previous frame pair's translation of `T_cur_prev` (see `decompose_essential`),
    or None.
    """
    p0, p1 = track_corners(to_gray(previous), to_gray(current), MAX_CORNERS)
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
    R, t = decompose_essential(essential[:3], p0[keep], p1[keep], K, hint)
    # (R, t): X_cur = R X_prev + t, i.e. T_cur_prev; we return its inverse.
    return inverse_motion(R, t)


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
