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
- the filter rejected its measurement as an outlier of a confident belief (`filter_outlier`);
- its triangulated depth disagrees with the network's depth corrected by this frame's scale
  field (`depth_inconsistency`), by more than `inconsistent_sigmas` times the two's combined
  error, where the network's error is what the frame measured (the field's residual spread):
  traffic driving along the camera's direction slides along the epipolar line too, only by
  less (ahead, same direction) or more (oncoming) than its depth needs.

The evidence is cleaned (an opening removes isolated pixels; blobs under `min_area` of the
image go) and joined with the network's mask (its own evidence, tracked over frames). On the
synthetic world's traffic, which drives along the road, a single frame's evidence is weak: the
flow's noise and the network's depth error overlap the movers' depth inconsistency
(docs/depth_from_motion.md has the numbers).
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
    inconsistent_sigmas: float = 4.0
    inconsistency_radius: float = 0.1
    network_margin_px: int = 2
    window: float = 0.02
    max_fraction: float = 0.6


def geometric_evidence(tri: Triangulation, sigma_px: np.ndarray, reliable: np.ndarray,
                       known_rho: np.ndarray, known_sigma: np.ndarray, options: MaskOptions
                       ) -> np.ndarray:
    """(H, W) bool raw evidence of independent motion (the module docstring's first three
    tests), before cleaning.

    tri: this frame's triangulation; sigma_px: (H, W) flow 1-sigma, pixels; reliable: (H, W)
    bool, the flow passed its consistency checks; known_rho / known_sigma: (H, W) the inverse
    depth believed before this frame's measurement and its 1-sigma (NaN / inf where none).
    """
    with np.errstate(invalid='ignore'):
        across = tri.epipolar_px > options.epipolar_sigmas * sigma_px
        behind = tri.parallax_px < -options.behind_sigmas * sigma_px
        # the displacement along the line that the known depth needs, with its tolerance
        needed = tri.speed * known_rho
        slack = tri.speed * known_sigma + options.behind_sigmas * sigma_px
        too_far = (needed - slack > 0) & (tri.parallax_px * options.far_factor < needed - slack)
    return reliable & (across | behind | (too_far & np.isfinite(known_rho)))


def depth_inconsistency(correction: np.ndarray, relative_sigma: np.ndarray, field: np.ndarray,
                        measured: np.ndarray, options: MaskOptions) -> np.ndarray:
    """(H, W) bool measured pixels whose log(measured / network) `correction` departs from the
    wide `field` coherently: the residual averaged over a small window of measured pixels
    (`window`, share of the width; a car's offset is shared by its pixels, the flow's noise
    is not) beyond inconsistent_sigmas x its robust spread over the frame."""
    residual = np.where(measured, correction - field, 0).astype(np.float32)
    weight = measured.astype(np.float32)
    size = max(3, int(round(options.window * residual.shape[1])) | 1)
    total = cv2.boxFilter(residual, -1, (size, size), normalize=False)
    count = cv2.boxFilter(weight, -1, (size, size), normalize=False)
    with np.errstate(invalid='ignore', divide='ignore'):
        local = total / count
    usable = measured & (count >= 0.25 * size * size)
    values = local[usable]
    if values.size == 0:
        return np.zeros_like(measured)
    centre = float(np.median(values))
    spread = float(1.4826 * np.median(np.abs(values - centre)))
    with np.errstate(invalid='ignore'):
        return usable & (np.abs(local - centre) > options.inconsistent_sigmas * spread)


def clean_mask(evidence: np.ndarray, network_mask: np.ndarray | None, options: MaskOptions
               ) -> np.ndarray:
    """(H, W) bool moving pixels from raw evidence: an opening removes isolated pixels, blobs
    under `min_area` go (evidence over `max_fraction` of the image means the geometry failed:
    none of it is kept), then the network's mask joins."""
    mask = cv2.morphologyEx(evidence.astype(np.uint8), cv2.MORPH_OPEN,
                            np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= options.min_area * mask.size
    keep[0] = False
    mask = keep[labels]
    if mask.mean() > options.max_fraction:
        mask[:] = False
    if network_mask is not None:
        mask |= network_mask
    return mask
