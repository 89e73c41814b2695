"""Edge-aware smoothness (spec 4.2): first-order gradients of a map, down-weighted at image edges.

Used on mean-normalised disparity (weight 1e-3 / 2^scale) and, by the object-motion regulariser,
on the normalised object-motion field.
"""

from __future__ import annotations

from torch import Tensor


def edge_aware_smoothness(field: Tensor, image: Tensor) -> Tensor:
    """mean(|d_x f| exp(-|d_x I|) + |d_y f| exp(-|d_y I|)), averaged per image then over the batch.

    field: (B, C, H, W), any units (the loss has the field's units); image: (B, 3, H, W) in
    [0, 1] at the same resolution. Constant fields give exactly zero.
    """
    grad_fx = (field[..., :, 1:] - field[..., :, :-1]).abs().sum(1, keepdim=True)
    grad_fy = (field[..., 1:, :] - field[..., :-1, :]).abs().sum(1, keepdim=True)
    grad_ix = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(1, keepdim=True)
    grad_iy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(1, keepdim=True)
    x_term = (grad_fx * (-grad_ix).exp()).mean(dim=(1, 2, 3))
    y_term = (grad_fy * (-grad_iy).exp()).mean(dim=(1, 2, 3))
    return (x_term + y_term).mean()


def normalise_disparity(disp: Tensor) -> Tensor:
    """Disparity (B, 1, H, W) divided by its per-image mean: the loss ignores the global scale.

    Without this, the network could lower the smoothness loss by shrinking all disparities
    (pushing the scene away), which the photometric loss cannot see.
    """
    return disp / (disp.mean(dim=(2, 3), keepdim=True) + 1e-7)


def disparity_smoothness(disp: Tensor, image: Tensor) -> Tensor:
    """Edge-aware smoothness of mean-normalised disparity (B, 1, h, w); image (B, 3, h, w)."""
    return edge_aware_smoothness(normalise_disparity(disp), image)
