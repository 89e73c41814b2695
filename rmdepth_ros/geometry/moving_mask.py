"""Independently moving pixels from geometry: observed flow against what a static world allows.

numpy / OpenCV only. For a static point, the flow ends on the epipolar line of the camera's
motion, on the side of the rotation-only point that puts the point in front of the camera, at
the depth the scene has there. So a pixel moves when (each test in units of the flow's own
noise, `sigma_px`):

- its flow is far from the epipolar line (`epipolar_sigmas`): any motion across the line;
- it slides along the line the wrong way (the point would be behind the camera);
- it slides along the line by far less than its known depth needs (`far_factor`): a car
  driving ahead in the camera's lane, which looks like a point at infinity; 'known' is the
  depth filter's belief where it has one, else the prior;
- the filter rejected its measurement as an outlier of a confident belief (`filter_outlier`).

The evidence is cleaned (an opening removes isolated pixels; blobs under `min_area` of the
image go) and, when the network gives a mask, the network's moving pixels that touch
geometric evidence are added (the network sees the whole car; geometry sees where it is sure).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rmdepth_ros.geometry.triangulation import Triangulation


@dataclass(frozen=True)
class MaskOptions:
    epipolar_sigmas: float = 4.0
    behind_sigmas: float = 4.0
    far_factor: float = 3.0
    min_area: float = 0.0005
    use_filter_outliers: bool = True
    max_fraction: float = 0.6


def moving_mask(tri: Triangulation, sigma_px: np.ndarray, reliable: np.ndarray,
                known_rho: np.ndarray, known_sigma: np.ndarray,
                filter_outliers: np.ndarray | None, network_mask: np.ndarray | None,
                options: MaskOptions) -> np.ndarray:
    """(H, W) bool moving pixels (module docstring).

    tri: this frame's triangulation; sigma_px: (H, W) flow 1-sigma, pixels; reliable: (H, W)
    bool, the flow passed its consistency checks; known_rho / known_sigma: (H, W) the inverse
    depth believed before this frame's measurement and its 1-sigma (NaN / inf where none);
    filter_outliers: (H, W) bool or None; network_mask: (H, W) bool or None.
    """
    with np.errstate(invalid='ignore'):
        across = tri.epipolar_px > options.epipolar_sigmas * sigma_px
        behind = tri.parallax_px < -options.behind_sigmas * sigma_px
        # the displacement along the line that the known depth needs, with its tolerance
        needed = tri.speed * known_rho
        slack = tri.speed * known_sigma + options.behind_sigmas * sigma_px
        too_far = (needed - slack > 0) & (tri.parallax_px * options.far_factor < needed - slack)
    evidence = reliable & (across | behind | (too_far & np.isfinite(known_rho)))
    if filter_outliers is not None and options.use_filter_outliers:
        evidence |= filter_outliers & reliable
    mask = cv2.morphologyEx(evidence.astype(np.uint8), cv2.MORPH_OPEN,
                            np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= options.min_area * mask.size
    keep[0] = False
    mask = keep[labels]
    if network_mask is not None and mask.any():
        net = network_mask.astype(np.uint8)
        count, labels = cv2.connectedComponents(net, connectivity=8)
        touched = np.unique(labels[mask & (net > 0)])
        mask |= np.isin(labels, touched[touched > 0])
    if mask.mean() > options.max_fraction:  # the geometry itself failed: trust nothing of it
        return np.zeros_like(mask)
    return mask
