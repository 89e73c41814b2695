"""Optional forward-backward consistency of camera motion (Li et al. 2020, spec 4.2).

The motion net run on (t, s) gives T_s_t and on (s, t) gives T_t_s; their product should be the
identity. Only the camera part is compared: object motion lives on two different pixel grids
and would need the source depth, which the training step does not compute.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cycle_losses(T_s_t: Tensor, T_t_s: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """(rotation, translation) cycle errors of T_s_t (B, 4, 4) and T_t_s (B, 4, 4).

    rotation: mean squared Frobenius norm of R_s_t R_t_s - I (dimensionless);
    translation: |R_s_t t_t_s + t_s_t|^2 / (|t_s_t|^2 + |t_t_s|^2 + eps), scale-free.
    Both are zero when T_t_s is exactly the inverse of T_s_t.
    """
    rot = T_s_t[:, :3, :3] @ T_t_s[:, :3, :3]
    eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
    rotation = (rot - eye).pow(2).sum(dim=(1, 2)).mean()
    composed = (T_s_t[:, :3, :3] @ T_t_s[:, :3, 3:])[..., 0] + T_s_t[:, :3, 3]  # (B, 3)
    norm = T_s_t[:, :3, 3].pow(2).sum(-1) + T_t_s[:, :3, 3].pow(2).sum(-1) + eps
    translation = (composed.pow(2).sum(-1) / norm).mean()
    return rotation, translation
