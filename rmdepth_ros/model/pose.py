"""Rigid transforms: axis-angle + translation <-> 4x4 matrices, and their inverse.

Convention (docs/conventions.md): a 4x4 `T_s_t` maps target-camera points into the source camera,
`X_s = R X_t + t`. The pose network predicts (axisangle, translation) and `pose_vec_to_mat` builds
exactly that matrix (rotation first, then translation).
"""

from __future__ import annotations

import torch
from torch import Tensor

# Below this squared angle (rad^2) the Rodrigues coefficients use their Taylor series: the closed
# forms divide by theta and lose all precision (and give NaN gradients) near zero.
_SMALL_ANGLE_SQ = 1e-4


def _skew(v: Tensor) -> Tensor:
    """Cross-product matrices [v]_x of vectors (B, 3) -> (B, 3, 3)."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).view(-1, 3, 3)


def axisangle_to_rotation(axisangle: Tensor) -> Tensor:
    """Rodrigues' formula: rotation vectors (B, 3), radians -> rotation matrices (B, 3, 3).

    R = I + a [v]_x + b [v]_x^2 with a = sin(th)/th, b = (1 - cos(th))/th^2, th = |v|. Exact
    (to rounding) and with finite gradients for any angle, including zero: a zero vector gives
    exactly the identity.
    """
    theta_sq = (axisangle * axisangle).sum(-1)  # (B,)
    small = theta_sq < _SMALL_ANGLE_SQ
    # Evaluate the closed forms on a safe angle so that the unused branch of `where` has no NaN
    # (NaN * 0 would still poison the gradient).
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    a = torch.where(small, 1.0 - theta_sq / 6.0 + theta_sq ** 2 / 120.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta_sq / 24.0 + theta_sq ** 2 / 720.0,
                    (1.0 - torch.cos(theta)) / safe_sq)
    skew = _skew(axisangle)
    eye = torch.eye(3, dtype=axisangle.dtype, device=axisangle.device).expand_as(skew)
    return eye + a[:, None, None] * skew + b[:, None, None] * (skew @ skew)


def pose_vec_to_mat(axisangle: Tensor, translation: Tensor) -> Tensor:
    """4x4 rigid transforms [R | t] from rotation vectors and translations.

    axisangle: (B, 3) radians; translation: (B, 3) metres (model scale). Returns (B, 4, 4) with
    `X_s = R X_t + t`: the rotation is applied first, then the translation.
    """
    if axisangle.shape != translation.shape or axisangle.shape[-1] != 3:
        raise ValueError(f'need (B, 3) axisangle and translation, got {tuple(axisangle.shape)} '
                         f'and {tuple(translation.shape)}')
    batch = axisangle.shape[0]
    top = torch.cat([axisangle_to_rotation(axisangle), translation[:, :, None]], dim=2)
    bottom = torch.zeros(batch, 1, 4, dtype=top.dtype, device=top.device)
    bottom[:, 0, 3] = 1.0
    return torch.cat([top, bottom], dim=1)


def rotation_to_quaternion(rotation: Tensor) -> Tensor:
    """Rotation matrices (B, 3, 3) -> unit quaternions (B, 4) as (w, x, y, z) with w >= 0.

    Shepperd's method: of the four algebraically equivalent formulas, use the one whose pivot
    (4 w^2, 4 x^2, ...) is largest, which keeps the division well conditioned at every angle,
    including 180 degrees where the trace-based formula breaks down.
    """
    r = rotation
    r00, r01, r02 = r[:, 0, 0], r[:, 0, 1], r[:, 0, 2]
    r10, r11, r12 = r[:, 1, 0], r[:, 1, 1], r[:, 1, 2]
    r20, r21, r22 = r[:, 2, 0], r[:, 2, 1], r[:, 2, 2]
    pivots = torch.stack([1 + r00 + r11 + r22, 1 + r00 - r11 - r22,
                          1 - r00 + r11 - r22, 1 - r00 - r11 + r22], dim=-1)  # (B, 4) = 4 q_i^2
    # Each row: 4 q_i * (w, x, y, z) for pivot i.
    candidates = torch.stack([
        torch.stack([pivots[:, 0], r21 - r12, r02 - r20, r10 - r01], dim=-1),
        torch.stack([r21 - r12, pivots[:, 1], r01 + r10, r02 + r20], dim=-1),
        torch.stack([r02 - r20, r01 + r10, pivots[:, 2], r12 + r21], dim=-1),
        torch.stack([r10 - r01, r02 + r20, r12 + r21, pivots[:, 3]], dim=-1),
    ], dim=1)  # (B, 4, 4)
    best = pivots.argmax(dim=-1)
    chosen = candidates[torch.arange(r.shape[0], device=r.device), best]  # (B, 4)
    pivot = pivots.gather(1, best[:, None]).clamp(min=1e-12).sqrt()  # 2 |q_i|
    quat = chosen / (2.0 * pivot)
    return torch.where(quat[:, :1] < 0, -quat, quat)


def rotation_to_axisangle(rotation: Tensor) -> Tensor:
    """Logarithm of rotation matrices (B, 3, 3) -> rotation vectors (B, 3), angle in [0, pi]."""
    quat = rotation_to_quaternion(rotation)
    w, xyz = quat[:, :1], quat[:, 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)  # sin(theta / 2)
    theta = 2.0 * torch.atan2(sin_half, w)
    small = sin_half < 1e-6
    # theta / sin(theta/2) -> 2 / w as the angle goes to zero (w = cos(theta/2) > 0 there).
    factor = torch.where(small, 2.0 / w, theta / torch.where(small, torch.ones_like(w), sin_half))
    return xyz * factor


def mat_to_pose_vec(transform: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of `pose_vec_to_mat`: (B, 4, 4) -> (axisangle (B, 3) rad, translation (B, 3))."""
    return rotation_to_axisangle(transform[:, :3, :3]), transform[:, :3, 3].clone()


def invert_transform(transform: Tensor) -> Tensor:
    """Inverse of rigid transforms (B, 4, 4): [R | t]^-1 = [R^T | -R^T t], exact for rigid T.

    `invert_transform(T_s_t)` is `T_t_s`.
    """
    rot_t = transform[:, :3, :3].transpose(1, 2)
    trans = -(rot_t @ transform[:, :3, 3:])
    top = torch.cat([rot_t, trans], dim=2)
    return torch.cat([top, transform[:, 3:, :]], dim=1)
