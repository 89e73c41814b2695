"""How closely two runs of the Estimator agree: a precision or a faster runner against CPU fp32.

`agreement` compares two lists of outputs of the same frames (same weights, same input size)
and `check_tolerance` holds the result against `TOLERANCES`, the stated limits per precision.
The limits are a choice, set before any GPU measurement: fp32 on CUDA is allowed what TF32
convolutions (cuDNN's default on Ampere and later) and a different summation order cost;
fp16 and bf16 share one limit, so that the faster of the two wins where both pass. A depth
difference of 1 % is a tenth of the shipped weights' best AbsRel (README "Scorecard").
"""

from __future__ import annotations

from collections.abc import Sequence
import math

import numpy as np

from rmdepth_ros.evaluation.metrics import flow_epe
from rmdepth_ros.geometry.rotations import rotation_angle_deg

_HALF = {'depth_rel_median': 0.01, 'depth_rel_p95': 0.05, 'translation_rel': 0.02,
         'rotation_deg': 0.02, 'flow_epe_px': 0.1, 'mask_disagreement': 0.01}
#: Largest allowed difference from CPU fp32, per precision (keys as `agreement` returns them).
TOLERANCES: dict[str, dict[str, float]] = {
    'fp32': {'depth_rel_median': 1e-3, 'depth_rel_p95': 5e-3, 'translation_rel': 2e-3,
             'rotation_deg': 2e-3, 'flow_epe_px': 0.01, 'mask_disagreement': 1e-3},
    'fp16': dict(_HALF),
    'bf16': dict(_HALF),
}
#: Translations shorter than this (model units) are compared as if they were this long.
MIN_TRANSLATION = 0.01


def agreement(reference: Sequence, outputs: Sequence) -> dict[str, float]:
    """Differences of `outputs` from `reference` (EstimatorOutput lists of the same frames).

    depth_rel_median / depth_rel_p95: median and 95th percentile over all pixels of all frames
      of |d - d_ref| / d_ref (pixels finite in both; a pixel finite only in the reference
      counts as an infinite difference).
    translation_rel: largest over frames of |t - t_ref| / max(|t_ref|, MIN_TRANSLATION).
    rotation_deg: largest over frames of the angle of R_ref^T R.
    flow_epe_px: mean over frames of the flow end-point difference (pixels finite in both).
    mask_disagreement: fraction of pixels, over all frames, where the moving-object masks differ.
    Motion, flow and mask terms are NaN when no frame has them (a single frame).
    """
    if len(reference) != len(outputs) or not reference:
        raise ValueError(f'agreement needs two equally long, non-empty output lists, got '
                         f'{len(reference)} and {len(outputs)}')
    relative = []
    translation, rotation, epe, disagree, pixels = [], [], [], 0, 0
    for ref, out in zip(reference, outputs, strict=True):
        if ref.depth.shape != out.depth.shape:
            raise ValueError(f'depth shapes differ: {ref.depth.shape} and {out.depth.shape}')
        valid = np.isfinite(ref.depth) & (ref.depth > 0)
        with np.errstate(invalid='ignore'):
            diff = np.abs(out.depth[valid] - ref.depth[valid]) / ref.depth[valid]
        relative.append(np.where(np.isfinite(diff), diff, math.inf))
        if ref.motion is None or out.motion is None:
            continue
        if not np.all(np.isfinite(out.motion)):  # NaN must fail, not vanish from a max
            translation.append(math.inf)
            rotation.append(math.inf)
        else:
            t_ref, t_out = ref.motion[:3, 3], out.motion[:3, 3]
            scale = max(float(np.linalg.norm(t_ref)), MIN_TRANSLATION)
            translation.append(float(np.linalg.norm(t_out - t_ref)) / scale)
            rotation.append(rotation_angle_deg(ref.motion[:3, :3].T @ out.motion[:3, :3]))
        flow = flow_epe(out.flow, ref.flow)
        if flow is not None:
            epe.append(flow)
        elif np.isfinite(ref.flow).all(-1).any():  # the reference has flow, the output none
            epe.append(math.inf)
        disagree += int(np.count_nonzero(ref.motion_mask != out.motion_mask))
        pixels += ref.motion_mask.size
    relative = np.concatenate(relative) if relative else np.empty(0)
    nan = float('nan')
    return {
        'depth_rel_median': float(np.median(relative)) if relative.size else nan,
        'depth_rel_p95': (float(np.percentile(relative, 95, method='higher')) if relative.size
                          else nan),
        'translation_rel': max(translation) if translation else nan,
        'rotation_deg': max(rotation) if rotation else nan,
        'flow_epe_px': float(np.mean(epe)) if epe else nan,
        'mask_disagreement': disagree / pixels if pixels else nan,
    }


def check_tolerance(metrics: dict[str, float], precision: str) -> list[str]:
    """The metrics of `agreement` outside the tolerance of `precision`, as readable strings
    ('depth_rel_median 0.031 > 0.01'); empty when all are within. NaN depth fails."""
    if precision not in TOLERANCES:
        raise ValueError(f"precision must be one of {', '.join(TOLERANCES)}, got '{precision}'")
    failures = []
    for key, limit in TOLERANCES[precision].items():
        value = metrics.get(key, float('nan'))
        missing = math.isnan(value)
        if missing and key.startswith('depth'):
            failures.append(f'{key} missing')
        elif not missing and value > limit:
            failures.append(f'{key} {value:.3g} > {limit:g}')
    return failures
