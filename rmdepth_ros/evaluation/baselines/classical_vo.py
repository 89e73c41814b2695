"""Classical two-view visual odometry: KLT-tracked corners, essential matrix, `recoverPose`.

The textbook pipeline a user gets without a learned network (our own, with OpenCV's building
blocks): Shi-Tomasi corners of the previous frame are tracked into the current one with
pyramidal Lucas-Kanade (kept only when tracking back lands within a pixel of the start), an
essential matrix is fitted with RANSAC and decomposed with the cheirality check. Two views give
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


def two_view_motion(previous: np.ndarray, current: np.ndarray, intrinsics: np.ndarray
                    ) -> np.ndarray | None:
    """`T_prev_cur` (4, 4, unit translation) between two uint8 images of one camera, or None
    when too few corners track. Identity when the image does not move (no parallax).

    previous, current: (H, W) gray or (H, W, 3) RGB. intrinsics: (3, 3) pixels.
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
    _, R, t, _ = cv2.recoverPose(essential[:3], p0, p1, K, mask=inliers)
    # recoverPose: X_cur = R X_prev + t, i.e. T_cur_prev; we return its inverse.
    motion = np.eye(4)
    motion[:3, :3] = R.T
    motion[:3, 3] = -R.T @ t.ravel()
    return motion


class TwoViewVO:
    """Frame-by-frame wrapper: keeps the previous image; `step` returns `T_prev_cur` or None
    (first frame, size change, or tracking failure)."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self.failures = 0

    def step(self, image: np.ndarray, intrinsics: np.ndarray) -> np.ndarray | None:
        previous, self._previous = self._previous, to_gray(image)
        if previous is None or previous.shape != self._previous.shape:
            return None
        motion = two_view_motion(previous, self._previous, intrinsics)
        self.failures += motion is None
        return motion
