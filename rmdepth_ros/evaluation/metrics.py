"""Evaluation metrics (spec 5): depth, camera motion, optical flow, motion masks, snippet ATE.

The canonical metrics module of the project (training imports it from here). numpy in, plain
floats out, no torch. Depth is metres along the optical axis; poses are 4x4 float64; flow is
pixels on the current frame's grid (docs/conventions.md). Trajectory metrics (ATE after sim(3)
alignment, RPE, snippet ATE over a trajectory) are in `trajectory`, timing summaries in `timing`.
"""

from __future__ import annotations

import numpy as np

from rmdepth_ros.geometry.rotations import rotation_angle_deg  # noqa: F401 (re-exported)

DEPTH_METRICS = ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'a1', 'a2', 'a3')

#: Crops as fractions (top, bottom, left, right) of the image height / width.
#: 'garg': Garg et al. 2016, what Monodepth2's evaluate_depth.py applies on the Eigen split.
#: 'eigen': Eigen et al. 2014's own, larger crop.
CROPS = {
    'garg': (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    'eigen': (0.3324324, 0.91351351, 0.0359477, 0.96405229),
}


def crop_mask(shape: tuple[int, int], crop: str | None) -> np.ndarray:
    """(H, W) bool, True inside the named crop ('garg', 'eigen') or everywhere for None."""
    height, width = shape[:2]
    mask = np.zeros((height, width), bool)
    if crop is None:
        mask[:] = True
        return mask
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {', '.join(CROPS)} or None, got {crop!r}")
    top, bottom, left, right = CROPS[crop]
    mask[int(top * height):int(bottom * height), int(left * width):int(right * width)] = True
    return mask


def depth_valid(gt: np.ndarray, pred: np.ndarray, min_depth: float = 1e-3,
                max_depth: float = 80.0, crop: str | None = None) -> np.ndarray:
    """(H, W) bool: finite gt in (min_depth, max_depth), finite positive pred, inside `crop`."""
    with np.errstate(invalid='ignore'):
        valid = (np.isfinite(gt) & (gt > min_depth) & (gt < max_depth) & np.isfinite(pred)
                 & (pred > 0))
    return valid & crop_mask(gt.shape, crop)


def median_scale(gt: np.ndarray, pred: np.ndarray, valid: np.ndarray) -> float | None:
    """median(gt) / median(pred) over `valid` pixels (monocular depth has no scale of its own)."""
    if not valid.any():
        return None
    return float(np.median(gt[valid]) / np.median(pred[valid]))


def scaled_depth_pixels(gt: np.ndarray, pred: np.ndarray, min_depth: float = 1e-3,
                        max_depth: float = 80.0, median_scaling: bool = True,
                        crop: str | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(gt, pred, valid): the valid pixels (`depth_valid`) of both as float64 vectors, pred
    multiplied by median(gt) / median(pred) (with median_scaling) and clamped to
    [min_depth, max_depth], and the (H, W) mask they came from. None when no pixel is valid."""
    valid = depth_valid(gt, pred, min_depth, max_depth, crop)
    if not valid.any():
        return None
    g = gt[valid].astype(np.float64)
    p = pred[valid].astype(np.float64)
    if median_scaling:
        p = p * np.median(g) / np.median(p)
    return g, np.clip(p, min_depth, max_depth), valid


def depth_metrics(gt: np.ndarray, pred: np.ndarray, min_depth: float = 1e-3,
                  max_depth: float = 80.0, median_scaling: bool = True,
                  crop: str | None = None) -> dict[str, float] | None:
    """The seven standard depth metrics of one image (Monodepth2 protocol).

    gt, pred: (H, W) metres on the same grid. Valid pixels: `depth_valid` (max_depth is the
    depth cap, 80 m on KITTI). With median_scaling, pred is first multiplied by
    median(gt) / median(pred) over the valid pixels; then it is clamped to
    [min_depth, max_depth]. Returns None when no pixel is valid.
    a1, a2, a3: fraction with max(gt/pred, pred/gt) < 1.25, 1.25^2, 1.25^3.
    """
    scaled = scaled_depth_pixels(gt, pred, min_depth, max_depth, median_scaling, crop)
    if scaled is None:
        return None
    g, p, _ = scaled
    ratio = np.maximum(g / p, p / g)
    return {
        'abs_rel': float(np.mean(np.abs(g - p) / g)),
        'sq_rel': float(np.mean((g - p) ** 2 / g)),
        'rmse': float(np.sqrt(np.mean((g - p) ** 2))),
        'rmse_log': float(np.sqrt(np.mean((np.log(g) - np.log(p)) ** 2))),
        'a1': float(np.mean(ratio < 1.25)),
        'a2': float(np.mean(ratio < 1.25 ** 2)),
        'a3': float(np.mean(ratio < 1.25 ** 3)),
    }


def _flow_pixels(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    mask = np.isfinite(gt).all(-1) & np.isfinite(pred).all(-1)
    return mask if valid is None else mask & valid.astype(bool)


def flow_epe(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float | None:
    """Mean end-point error (pixels) of flow (H, W, 2) over valid (H, W) finite pixels."""
    mask = _flow_pixels(pred, gt, valid)
    if not mask.any():
        return None
    return float(np.linalg.norm(pred[mask] - gt[mask], axis=-1).mean())


def flow_metrics(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None
                 ) -> dict[str, float] | None:
    """EPE (pixels) and Fl-all (fraction of outliers, KITTI 2015) of flow (H, W, 2).

    A pixel is an outlier when its EPE is > 3 px AND > 5 % of the ground-truth magnitude.
    Pixels: finite in both and, when `valid` (H, W) is given, valid (non-occluded) there.
    """
    mask = _flow_pixels(pred, gt, valid)
    if not mask.any():
        return None
    epe = np.linalg.norm(pred[mask] - gt[mask], axis=-1)
    magnitude = np.linalg.norm(gt[mask], axis=-1)
    outlier = (epe > 3.0) & (epe > 0.05 * magnitude)
    return {'epe': float(epe.mean()), 'fl_all': float(outlier.mean())}


def mask_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int]:
    """(intersection, union) pixel counts of the moving class of two (H, W) bool masks."""
    pred, gt = pred.astype(bool), gt.astype(bool)
    return int((pred & gt).sum()), int((pred | gt).sum())


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float | None:
    """IoU of the moving class of two (H, W) masks; None when both are empty."""
    intersection, union = mask_counts(pred, gt)
    return intersection / union if union else None


#: Translations shorter than this (metres, or model units for predictions) have no direction.
MIN_TRANSLATION = 1e-4


def motion_errors(pred: np.ndarray, gt: np.ndarray, min_translation: float = MIN_TRANSLATION
                  ) -> dict[str, float]:
    """Errors of a predicted relative motion (4, 4) against the truth (4, 4).

    rot_err_deg: angle of R_gt^T R_pred (float64). trans_dir_err_deg: angle between the
    translations; NaN (undefined, excluded from means and counted by `mean_metrics`) when
    either translation is shorter than `min_translation` - a zero prediction has no direction,
    it must not score a perfect 0 deg.
    trans_err: |s t_pred - t_gt| (metres) with the least-squares scale s (monocular motion has
    no scale of its own), as in a 2-frame snippet ATE.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    rot = rotation_angle_deg(gt[:3, :3].T @ pred[:3, :3])
    tp, tg = pred[:3, 3], gt[:3, 3]
    norm_p, norm_g = float(np.linalg.norm(tp)), float(np.linalg.norm(tg))
    direction = float('nan')
    if norm_p >= min_translation and norm_g >= min_translation:
        cos = np.clip(tp @ tg / (norm_p * norm_g), -1.0, 1.0)
        direction = float(np.degrees(np.arccos(cos)))
    scale = float(tp @ tg / (tp @ tp)) if tp @ tp > 0 else 0.0
    return {'rot_err_deg': rot, 'trans_dir_err_deg': direction,
            'trans_err': float(np.linalg.norm(scale * tp - tg))}


def snippet_ate(gt_positions: np.ndarray, pred_positions: np.ndarray) -> float:
    """ATE of one snippet (Zhou et al. / Monodepth2 `compute_ate`), metres.

    gt_positions, pred_positions: (N, 3) camera positions in the snippet's first camera frame.
    The prediction is shifted to start at the truth's first position and scaled by the least-
    squares factor; the result is sqrt(sum of squared errors) / N, exactly as that code does.
    """
    pred = pred_positions + (gt_positions[0] - pred_positions[0])
    denom = float(np.sum(pred ** 2))
    scale = float(np.sum(gt_positions * pred) / denom) if denom > 0 else 0.0
    error = pred * scale - gt_positions
    return float(np.sqrt(np.sum(error ** 2)) / gt_positions.shape[0])


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per-key mean over a list of metric dicts (keys of the first row).

    NaN values (undefined metrics, e.g. the direction of a zero translation) are left out of
    the mean; where any were, `<key>_excluded` counts them (and the mean is NaN if all were).
    """
    if not rows:
        return {}
    result: dict[str, float] = {}
    for key in rows[0]:
        values = np.array([row[key] for row in rows], np.float64)
        defined = ~np.isnan(values)
        result[key] = float(values[defined].mean()) if defined.any() else float('nan')
        if not defined.all():
            result[f'{key}_excluded'] = float((~defined).sum())
    return result
