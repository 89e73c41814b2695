"""Camera geometry of RM-Depth (spec section 3.4): back-projection, motion, projection, warping.

All conventions are in docs/conventions.md. In short:
- Pixel coordinates (x, y) are OpenCV's: the centre of the top-left pixel is (0, 0), x right,
  y down; an image of width W covers x in [-0.5, W - 0.5].
- `T_s_t` (B, 4, 4) maps target-camera points into the source camera; object motion is a
  (B, 3, H, W) field on the target grid, in source-camera coordinates:
  `X_s = R X_t + t + T_obj(x)`.
- Flow lives on the target (current) grid and points from the source position to the target
  position: `flow = x - p_s(x)`.
Depth is metres (model scale) along the optical z axis, shape (B, 1, H, W).
"""

from __future__ import annotations

import torch
from torch import Tensor
import torch.nn.functional as F

# Points closer than this to the source camera plane (metres, model scale) are invalid: behind the
# camera or so close that the projection is meaningless. Far below the 0.1 m minimum depth.
MIN_Z = 1e-3
# Moving-object criterion (`motion_mask`): object motion above 3 % of the point's depth per frame
# that also shifts its projection by more than 0.5 % of the image width.
MASK_MIN_RELATIVE = 0.03
MASK_MIN_SHIFT = 0.005
MASK_FIRST_FACTOR = 2.0  # stricter thresholds without a previous frame's evidence


def pixel_grid(batch: int, height: int, width: int, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """Pixel-centre coordinates (B, 2, H, W): channel 0 is x (column), channel 1 is y (row)."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=dtype),
                            torch.arange(width, device=device, dtype=dtype), indexing='ij')
    return torch.stack([xs, ys])[None].expand(batch, 2, height, width)


def inverse_intrinsics(K: Tensor) -> Tensor:
    """Exact inverse of pinhole intrinsics (..., 3, 3) [[fx, s, cx], [0, fy, cy], [0, 0, 1]].

    Closed form of the upper-triangular inverse: no general matrix inversion, so the last row
    stays exactly (0, 0, 1) and back-projected points have z equal to the depth.
    """
    fx, s, cx = K[..., 0, 0], K[..., 0, 1], K[..., 0, 2]
    fy, cy = K[..., 1, 1], K[..., 1, 2]
    zero, one = torch.zeros_like(fx), torch.ones_like(fx)
    rows = [1 / fx, -s / (fx * fy), (s * cy - cx * fy) / (fx * fy),
            zero, 1 / fy, -cy / fy,
            zero, zero, one]
    return torch.stack(rows, dim=-1).reshape(K.shape)


def scale_intrinsics(K: Tensor, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> Tensor:
    """Intrinsics (..., 3, 3) of an image resized from (H, W) to (H', W') (docs/conventions.md).

    fx' = fx W'/W, cx' = (cx + 0.5) W'/W - 0.5, and likewise for y: the pixel-centre convention
    of bilinear resizing with align_corners=False and of cv2.resize.
    """
    sy = to_hw[0] / from_hw[0]
    sx = to_hw[1] / from_hw[1]
    # K' = S K, with S the affine map between the two pixel grids; this also scales the skew.
    S = K.new_tensor([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return S @ K


def backproject(depth: Tensor, inv_K: Tensor) -> Tensor:
    """3D points (B, 3, H, W), metres, camera frame, from depth (B, 1, H, W) and K^-1 (B, 3, 3).

    X(x) = D(x) K^-1 (x, y, 1)^T (spec Eq. 1).
    """
    batch, _, height, width = depth.shape
    grid = pixel_grid(batch, height, width, depth.device, depth.dtype)
    homog = torch.cat([grid, torch.ones_like(depth)], dim=1)  # (B, 3, H, W)
    return torch.einsum('bij,bjhw->bihw', inv_K, homog) * depth


def project(points: Tensor, K: Tensor) -> tuple[Tensor, Tensor]:
    """Pinhole projection of camera-frame points (B, 3, H, W) with K (B, 3, 3).

    Returns the pixel coordinates (B, 2, H, W) and the depth z (B, 1, H, W). z is clamped to
    MIN_Z for the division only, so points behind the camera land far outside the image instead
    of producing inf or NaN; test `z > MIN_Z` for validity.
    """
    cam = torch.einsum('bij,bjhw->bihw', K, points)
    z = cam[:, 2:3]
    return cam[:, :2] / z.clamp(min=MIN_Z), z


def transform_points(points: Tensor, T: Tensor, object_motion: Tensor | None = None) -> Tensor:
    """Move points (B, 3, H, W) with `X' = R X + t (+ T_obj)`; T (B, 4, 4), T_obj (B, 3, H, W)."""
    moved = torch.einsum('bij,bjhw->bihw', T[:, :3, :3], points) + T[:, :3, 3, None, None]
    return moved if object_motion is None else moved + object_motion


def source_coords(depth_t: Tensor, K: Tensor, T_s_t: Tensor,
                  object_motion: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Where each target pixel's scene point is seen in the source image.

    depth_t: (B, 1, H, W) target depth; K: (B, 3, 3) intrinsics of both images (same camera and
    size); T_s_t: (B, 4, 4); object_motion: (B, 3, H, W) source-camera metres or None.
    Returns p_s (B, 2, H, W) source pixel coordinates and valid (B, 1, H, W) bool: the point is in
    front of the source camera (z > MIN_Z) and inside the source image ([-0.5, W - 0.5]).

    Computed as x + displacement with X_s = X_t + delta, delta = (R - I) X_t + t + T_obj, so that
    K K^-1 never needs to cancel numerically: zero motion gives exactly p_s = x (zero flow).
    """
    batch, _, height, width = depth_t.shape
    points = backproject(depth_t, inverse_intrinsics(K))
    delta = transform_points(points, T_s_t, object_motion) - points  # (B, 3, H, W)
    # K X_t = D (x, y, 1), hence K X_s = D (x, y, 1) + K delta and z_s = D + delta_z.
    k_delta = torch.einsum('bij,bjhw->bihw', K, delta)
    grid = pixel_grid(batch, height, width, depth_t.device, depth_t.dtype)
    z_s = depth_t + delta[:, 2:3]
    shift = (k_delta[:, :2] - grid * delta[:, 2:3]) / z_s.clamp(min=MIN_Z)
    pix = grid + shift
    in_view = ((pix[:, :1] >= -0.5) & (pix[:, :1] <= width - 0.5)
               & (pix[:, 1:] >= -0.5) & (pix[:, 1:] <= height - 0.5))
    return pix, in_view & (z_s > MIN_Z)


def sample(image: Tensor, pix: Tensor) -> Tensor:
    """Bilinear sampling of image (B, C, H, W) at pixel coordinates (B, 2, H', W').

    Normalised coordinates with align_corners=False put pixel centres at (2x + 1)/W - 1, matching
    the pixel-centre convention; border padding repeats edge pixels. Non-finite coordinates
    (e.g. from infinite depth) are sent outside the image rather than poisoning the output.
    """
    height, width = image.shape[-2:]
    # Filled on the device, not copied from the host: a host copy would stop CUDA graph capture.
    scale = torch.stack([pix.new_full((), 2.0 / width), pix.new_full((), 2.0 / height)])
    scale = scale.view(1, 2, 1, 1)
    grid = ((pix + 0.5) * scale - 1.0).permute(0, 2, 3, 1)  # (B, H', W', 2)
    grid = torch.nan_to_num(grid, nan=-2.0, posinf=-2.0, neginf=-2.0)
    return F.grid_sample(image, grid, mode='bilinear', padding_mode='border', align_corners=False)


def warp(image_s: Tensor, depth_t: Tensor, K: Tensor, T_s_t: Tensor,
         object_motion: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Synthesise the target view from the source image (spec Eq. 2), differentiably.

    image_s: (B, C, H, W) source image; other arguments as in `source_coords`.
    Returns the warped image I_s->t (B, C, H, W) and valid (B, 1, H, W) bool.
    """
    pix, valid = source_coords(depth_t, K, T_s_t, object_motion)
    return sample(image_s, pix), valid


def optical_flow(depth_t: Tensor, K: Tensor, T_s_t: Tensor,
                 object_motion: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Full optical flow (B, 2, H, W), pixels, on the target grid, and valid (B, 1, H, W) bool.

    flow = x - p_s(x): the point at x in the target (current) frame was at x - flow in the
    source (previous) frame. Zero motion gives exactly zero flow.
    """
    pix, valid = source_coords(depth_t, K, T_s_t, object_motion)
    grid = pixel_grid(pix.shape[0], pix.shape[2], pix.shape[3], pix.device, pix.dtype)
    return grid - pix, valid


def rigid_flow(depth_t: Tensor, K: Tensor, T_s_t: Tensor) -> tuple[Tensor, Tensor]:
    """Flow due to camera motion only (static-scene assumption); see `optical_flow`."""
    return optical_flow(depth_t, K, T_s_t, None)


def motion_mask(object_motion: Tensor, depth_t: Tensor, K: Tensor, T_s_t: Tensor,
                min_relative: float = MASK_MIN_RELATIVE, min_shift: float = MASK_MIN_SHIFT
                ) -> Tensor:
    """Moving-object evidence (B, 1, H, W) bool from an object-motion field, absolute criterion.

    A pixel is moving when its object motion is large both in 3D relative to its distance,
    |T_obj| / depth > min_relative (per frame), and in the image: it moves the point's projection
    in the source image by more than min_shift * W pixels (W = image width; 0.005 W is 1 px at
    192 wide, 3.2 px at 640), measured against where the camera motion alone would put it.
    Arguments as in `source_coords`. Points behind the source camera are not marked.
    docs/conventions.md ("Moving-object mask") gives the rule and the estimator's temporal step.
    """
    moved, _ = source_coords(depth_t, K, T_s_t, object_motion)
    rigid, _ = source_coords(depth_t, K, T_s_t, None)
    shift = (moved - rigid).norm(dim=1, keepdim=True)
    relative = object_motion.norm(dim=1, keepdim=True) / depth_t.clamp(min=MIN_Z)
    width = depth_t.shape[-1]
    return (shift > min_shift * width) & (relative > min_relative)


def persistent_mask(evidence: Tensor, previous: Tensor, source_pix: Tensor,
                    in_view: Tensor) -> Tensor:
    """Temporal consistency: `evidence` (B, 1, H, W) bool kept only where the previous frame's
    evidence (B, 1, H, W) bool, on its own grid, was set within one pixel of where the point was
    then: source_pix (B, 2, H, W) and in_view from `source_coords` with the object motion."""
    grown = F.max_pool2d(previous.float(), 3, stride=1, padding=1)
    return evidence & in_view & (sample(grown, source_pix) > 0.5)


def tracked_motion_mask(object_motion: Tensor, depth_t: Tensor, K: Tensor, T_s_t: Tensor,
                        previous: Tensor | None) -> tuple[Tensor, Tensor]:
    """The estimator's mask: `motion_mask` evidence made temporally consistent.

    previous: the evidence of the frame just before, or None (first frame after a reset).
    Returns (mask, evidence), both (B, 1, H, W) bool; keep `evidence` for the next frame. With
    previous evidence, `persistent_mask`; without, the criterion at MASK_FIRST_FACTOR times its
    thresholds.
    """
    evidence = motion_mask(object_motion, depth_t, K, T_s_t)
    if previous is not None:
        pix, in_view = source_coords(depth_t, K, T_s_t, object_motion)
        return persistent_mask(evidence, previous, pix, in_view), evidence
    strict = motion_mask(object_motion, depth_t, K, T_s_t, MASK_MIN_RELATIVE * MASK_FIRST_FACTOR,
                         MASK_MIN_SHIFT * MASK_FIRST_FACTOR)
    return strict, evidence


def object_motion_to_current_frame(object_motion: Tensor, T_s_t: Tensor) -> Tensor:
    """Network T_obj (source-camera frame) -> displacement in the current camera frame.

    object_motion: (B, 3, H, W) metres; T_s_t = T_prev_cur (B, 4, 4). Returns (B, 3, H, W): the
    3D displacement of the point seen at each pixel from the previous time to now, expressed in
    the current camera frame, camera motion excluded: -R^T T_obj (docs/conventions.md).
    """
    return -torch.einsum('bji,bjhw->bihw', T_s_t[:, :3, :3], object_motion)
