"""Photometric reconstruction loss (spec 4.2): 0.85 SSIM + 0.15 L1, per-pixel minimum over sources.

All images are RGB in [0, 1], (B, 3, H, W). Errors are per pixel, (B, 1, H, W), averaged over the
colour channels. The reductions divide per image and then average over the batch, so a batch
split across processes (DDP) gives the same loss as the whole batch in one process.
"""

from __future__ import annotations

import torch
from torch import Tensor
import torch.nn.functional as F

# SSIM stabilisers for intensities in [0, 1] (Wang et al. 2004 with L = 1).
SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2
SSIM_WEIGHT = 0.85

# Reprojection error given to pixels that project outside the source image or behind its camera:
# far above any real error (at most 1), so the minimum picks another source when one is valid.
INVALID_ERROR = 1e3
# Std of the auto-masking tie-break noise (Monodepth2: 1e-5).
AUTOMASK_NOISE = 1e-5


def ssim_dissimilarity(x: Tensor, y: Tensor) -> Tensor:
    """(1 - SSIM) / 2 in [0, 1] over 3x3 windows, reflection padding; (B, C, H, W) -> same shape.

    Reflection padding keeps the border windows made of real pixels, so identical images give
    exactly zero everywhere, borders included.
    """
    x = F.pad(x, (1, 1, 1, 1), mode='reflect')
    y = F.pad(y, (1, 1, 1, 1), mode='reflect')
    mu_x = F.avg_pool2d(x, 3, stride=1)
    mu_y = F.avg_pool2d(y, 3, stride=1)
    var_x = F.avg_pool2d(x * x, 3, stride=1) - mu_x * mu_x
    var_y = F.avg_pool2d(y * y, 3, stride=1) - mu_y * mu_y
    cov = F.avg_pool2d(x * y, 3, stride=1) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    denominator = (mu_x * mu_x + mu_y * mu_y + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return ((1 - numerator / denominator) / 2).clamp(0, 1)


def photometric_error(pred: Tensor, target: Tensor) -> Tensor:
    """pe = 0.85 (1 - SSIM)/2 + 0.15 |pred - target|; (B, 3, H, W) x 2 -> (B, 1, H, W).

    Zero for identical images, positive wherever they differ.
    """
    l1 = (pred - target).abs().mean(1, keepdim=True)
    ssim = ssim_dissimilarity(pred, target).mean(1, keepdim=True)
    return SSIM_WEIGHT * ssim + (1 - SSIM_WEIGHT) * l1


def masked_error(error: Tensor, valid: Tensor) -> Tensor:
    """Replace the error (B, 1, H, W) by INVALID_ERROR where `valid` (B, 1, H, W) is False."""
    return torch.where(valid, error, torch.full_like(error, INVALID_ERROR))


def tie_noise(sample_index: Tensor, shape: tuple[int, ...], std: float = AUTOMASK_NOISE,
              device: torch.device | str = 'cpu') -> Tensor:
    """Tie-breaking noise (B, *shape), std `std`, drawn per sample from its global index (B,).

    A sample's noise depends on nothing but its index, so a batch split across processes, or a
    resumed run, breaks exactly the same ties as one process running straight through.
    """
    rows = []
    for index in sample_index.tolist():
        generator = torch.Generator().manual_seed(int(index))
        rows.append(torch.randn(shape, generator=generator))
    return (torch.stack(rows) * std).to(device)


def min_reprojection(reprojection: list[Tensor], identity: list[Tensor] | None = None,
                     noise: Tensor | float = AUTOMASK_NOISE) -> tuple[Tensor, Tensor, Tensor]:
    """Per-pixel minimum over sources with Monodepth2-style auto-masking.

    reprojection: per source, (B, 1, H, W) error of the warped source, INVALID_ERROR where the
      warp left the image (see `masked_error`).
    identity: per source, (B, 1, H, W) error of the *un-warped* source, or None to disable
      auto-masking. Where an un-warped source is at least as good as every warp (static camera,
      objects moving with the camera), the pixel's minimum is that identity error, which
      carries no gradient. Gaussian noise of std `noise` breaks exact ties (e.g. a textureless
      sky) in favour of neither; it only decides the selection, the loss uses the noise-free
      values, so ties cannot change the loss (they do decide which pixels pass gradient).
    noise: a (B, S, H, W) tensor (see `tie_noise`), or a std for fresh global-RNG noise.
    Returns (loss, per-pixel minimum (B, 1, H, W), automask (B, 1, H, W) bool: True where a
    warped source won). loss is the mean of the minimum over pixels with at least one valid
    candidate, per image, then over the batch (0 for an image without any).
    """
    reproj = torch.cat(reprojection, dim=1)  # (B, S, H, W)
    if identity is None:
        best, _ = reproj.min(dim=1, keepdim=True)
        return masked_mean(best, best < INVALID_ERROR), best, best < INVALID_ERROR
    ident = torch.cat(identity, dim=1)  # (B, S, H, W)
    if isinstance(noise, Tensor):
        selection = ident + noise.to(ident.dtype)
    elif noise > 0:
        selection = ident + noise * torch.randn_like(ident)
    else:
        selection = ident
    candidates = torch.cat([ident, reproj], dim=1)  # (B, 2S, H, W)
    choice = torch.cat([selection, reproj], dim=1).argmin(dim=1, keepdim=True)
    best = candidates.gather(1, choice)
    warped_won = choice >= ident.shape[1]
    return masked_mean(best, best < INVALID_ERROR), best, warped_won


def masked_mean(value: Tensor, mask: Tensor) -> Tensor:
    """Mean of value (B, 1, H, W) over mask (B, 1, H, W) per image, then over the batch."""
    weight = mask.to(value.dtype)
    per_image = (value * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp(min=1.0)
    return per_image.mean()
