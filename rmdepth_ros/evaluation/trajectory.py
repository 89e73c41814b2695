"""Trajectory metrics: similarity (Umeyama) alignment, ATE, RPE and the 5-frame-snippet ATE.

Poses are 4x4 float64 camera-to-world (docs/conventions.md); positions (N, 3) metres. A
monocular trajectory has no scale of its own, so ATE aligns with sim(3) by default and RPE uses
that alignment's scale.
"""

from __future__ import annotations

import numpy as np

from rmdepth_ros.evaluation.metrics import snippet_ate
from rmdepth_ros.geometry.rotations import rotation_angle_deg


def umeyama(source: np.ndarray, target: np.ndarray, with_scale: bool = True
            ) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares (s, R, t) with target ≈ s R source + t (Umeyama 1991).

    source, target: (N, 3) corresponding points, N >= 3 for a unique rotation (fewer give a
    valid but not unique answer). with_scale=False fixes s = 1 (se(3) alignment).
    """
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    xs, xt = source - mu_s, target - mu_t
    covariance = xt.T @ xs / len(source)  # (3, 3)
    u, d, vt = np.linalg.svd(covariance)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection is not a rotation
        sign[2, 2] = -1.0
    rotation = u @ sign @ vt
    variance = float(np.mean(np.sum(xs ** 2, axis=1)))
    scale = float(np.trace(np.diag(d) @ sign) / variance) if with_scale and variance > 0 else 1.0
    translation = mu_t - scale * rotation @ mu_s
    return scale, rotation, translation


def align(positions: np.ndarray, scale: float, rotation: np.ndarray,
          translation: np.ndarray) -> np.ndarray:
    """s R p + t for every row p of (N, 3) positions."""
    return scale * np.asarray(positions) @ rotation.T + translation


def ate(gt_positions: np.ndarray, pred_positions: np.ndarray, alignment: str = 'sim3'
        ) -> dict[str, float]:
    """Absolute trajectory error (metres) after aligning the prediction to the truth.

    alignment: 'sim3' (scale, rotation, translation), 'se3' (no scale) or 'none'.
    Returns ate_rmse, ate_mean, ate_median, ate_max and the alignment's scale.
    """
    if alignment == 'none':
        scale, rotation, translation = 1.0, np.eye(3), np.zeros(3)
    elif alignment in ('sim3', 'se3'):
        scale, rotation, translation = umeyama(pred_positions, gt_positions,
                                               alignment == 'sim3')
    else:
        raise ValueError(f"alignment must be 'sim3', 'se3' or 'none', got {alignment!r}")
    aligned = align(pred_positions, scale, rotation, translation)
    errors = np.linalg.norm(aligned - gt_positions, axis=1)
    return {'ate_rmse': float(np.sqrt(np.mean(errors ** 2))), 'ate_mean': float(errors.mean()),
            'ate_median': float(np.median(errors)), 'ate_max': float(errors.max()),
            'scale': scale}


def rpe(gt_poses: np.ndarray, pred_poses: np.ndarray, delta: int = 1, scale: float = 1.0
        ) -> dict[str, float] | None:
    """Relative pose error over pairs `delta` frames apart (Sturm et al. 2012).

    gt_poses, pred_poses: (N, 4, 4). The predicted relative translations are multiplied by
    `scale` (e.g. the sim(3) scale of `ate`). Returns rpe_trans_rmse / rpe_trans_mean (metres
    per `delta` frames) and rpe_rot_rmse / rpe_rot_mean (degrees per `delta` frames), or None
    with fewer than delta + 1 poses. Also rpe_trans_per_m (metres of error per metre travelled)
    and rpe_rot_deg_per_m: the summed errors over the summed ground-truth path length (absent
    when the truth does not move).
    """
    if len(gt_poses) <= delta:
        return None
    trans, rot, travelled = [], [], 0.0
    for i in range(len(gt_poses) - delta):
        gt_rel = np.linalg.inv(gt_poses[i]) @ gt_poses[i + delta]
        travelled += float(np.linalg.norm(gt_rel[:3, 3]))
        pred_rel = np.linalg.inv(pred_poses[i]) @ pred_poses[i + delta]
        pred_rel[:3, 3] *= scale
        error = np.linalg.inv(gt_rel) @ pred_rel
        trans.append(float(np.linalg.norm(error[:3, 3])))
        rot.append(rotation_angle_deg(error[:3, :3]))
    trans_a, rot_a = np.array(trans), np.array(rot)
    result = {'rpe_trans_rmse': float(np.sqrt(np.mean(trans_a ** 2))),
              'rpe_trans_mean': float(trans_a.mean()),
              'rpe_rot_rmse': float(np.sqrt(np.mean(rot_a ** 2))),
              'rpe_rot_mean': float(rot_a.mean())}
    if travelled > 0:
        result['rpe_trans_per_m'] = float(trans_a.sum() / travelled)
        result['rpe_rot_deg_per_m'] = float(rot_a.sum() / travelled)
    return result


def yaw_deg(R: np.ndarray) -> float:
    """Signed rotation (degrees) of R (3, 3) about the camera's y axis (optical frame: y down,
    so this is the heading change of a level camera), from its antisymmetric part in float64."""
    R = np.asarray(R, np.float64)
    return float(np.degrees(np.arctan2(R[0, 2] - R[2, 0], R[0, 0] + R[2, 2])))


def yaw_sums(gt_poses: np.ndarray, pred_poses: np.ndarray) -> dict[str, float]:
    """Summed frame-to-frame yaw (degrees) of truth and prediction: does it recover turns?

    gt_poses, pred_poses: (N, 4, 4). Returns yaw_sum_gt_deg, yaw_sum_pred_deg and
    yaw_sum_err_deg = |pred - gt|; with N < 2 both sums are 0.
    """
    sums = []
    for poses in (gt_poses, pred_poses):
        sums.append(sum(yaw_deg((np.linalg.inv(poses[i]) @ poses[i + 1])[:3, :3])
                        for i in range(len(poses) - 1)))
    return {'yaw_sum_gt_deg': float(sums[0]), 'yaw_sum_pred_deg': float(sums[1]),
            'yaw_sum_err_deg': float(abs(sums[1] - sums[0]))}


def trajectory_snippet_ate(gt_poses: np.ndarray, pred_poses: np.ndarray, snippet: int = 5
                           ) -> dict[str, float] | None:
    """The paper's odometry metric: ATE on every `snippet`-frame window (Zhou et al. 2017).

    Each window's positions are taken relative to its first camera (truth and prediction each
    in their own first frame), then scored by `metrics.snippet_ate` (shift + least-squares
    scale). Returns snippet_ate_mean, snippet_ate_std (metres) and snippets, or None when the
    trajectory is shorter than one snippet.
    """
    if len(gt_poses) < snippet:
        return None
    errors = []
    for start in range(len(gt_poses) - snippet + 1):
        gt_first = np.linalg.inv(gt_poses[start])
        pred_first = np.linalg.inv(pred_poses[start])
        gt = np.stack([(gt_first @ gt_poses[start + j])[:3, 3] for j in range(snippet)])
        pred = np.stack([(pred_first @ pred_poses[start + j])[:3, 3] for j in range(snippet)])
        errors.append(snippet_ate(gt, pred))
    return {'snippet_ate_mean': float(np.mean(errors)),
            'snippet_ate_std': float(np.std(errors)), 'snippets': float(len(errors))}
