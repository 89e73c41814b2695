"""Loss terms of the training package: zero on identical inputs, positive otherwise, and the
photometric loss driven to zero by the true motion on an analytic textured plane."""

import math

import pytest
from rmdepth_training.augment import flip_intrinsics
from rmdepth_training.criterion import object_motion_scale
from rmdepth_training.cycle import cycle_losses
from rmdepth_training.object_motion_reg import (
    charbonnier,
    outlier_aware_loss,
    outlier_mask,
    rigid_suppression,
    sparsity_loss,
)
from rmdepth_training.photometric import (
    INVALID_ERROR,
    masked_error,
    min_reprojection,
    photometric_error,
    ssim_dissimilarity,
)
from rmdepth_training.smoothness import disparity_smoothness, edge_aware_smoothness
import torch

from rmdepth_ros.model.geometry import warp
from rmdepth_ros.model.pose import invert_transform, pose_vec_to_mat

torch.set_num_threads(1)


def _images(seed: int = 0, shape=(2, 3, 24, 40)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=generator)


# -- photometric ---------------------------------------------------------------------------------

def test_photometric_error_is_zero_on_identical_images_and_positive_otherwise():
    image = _images()
    assert photometric_error(image, image).abs().max() == 0
    assert ssim_dissimilarity(image, image).abs().max() == 0  # borders too (reflection pad)
    other = _images(seed=1)
    error = photometric_error(other, image)
    assert error.shape == (2, 1, 24, 40)
    assert (error > 0).all()
    # A small brightness change is penalised less than unrelated content.
    assert photometric_error((image * 0.95), image).mean() < error.mean()


def test_min_reprojection_picks_the_best_source_and_ignores_out_of_view_pixels():
    good = torch.full((1, 1, 4, 4), 0.1)
    bad = torch.full((1, 1, 4, 4), 0.5)
    valid = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    valid[..., 0, :] = False  # the good source is out of view on row 0
    loss, best, mask = min_reprojection([masked_error(good, valid), bad])
    assert torch.allclose(best[..., 1:, :], good[..., 1:, :])
    assert torch.allclose(best[..., 0, :], bad[..., 0, :])
    assert mask.all()
    # Out of view in every source: the pixel leaves the loss entirely.
    loss, best, mask = min_reprojection([masked_error(good, valid), masked_error(bad, valid)])
    assert not mask[..., 0, :].any() and mask[..., 1:, :].all()
    assert loss.item() == pytest.approx(0.1)
    assert best[..., 0, :].min() >= INVALID_ERROR


def test_automask_drops_pixels_that_the_unwarped_source_explains():
    reprojection = torch.full((1, 1, 4, 4), 0.2)
    identity = torch.full((1, 1, 4, 4), 0.3)
    identity[..., :2, :] = 0.05  # static camera / object moving with the camera on top rows
    loss, best, mask = min_reprojection([reprojection], [identity], noise=1e-5)
    assert not mask[..., :2, :].any() and mask[..., 2:, :].all()
    # The masked pixels keep their (gradient-free) identity error in the mean.
    assert loss.item() == pytest.approx((0.05 + 0.2) / 2)
    # An exact tie goes either way, but cannot change the loss.
    tie, _, _ = min_reprojection([reprojection], [reprojection.clone()], noise=1e-5)
    assert tie.item() == pytest.approx(0.2, abs=1e-7)


def _plane_images(K: torch.Tensor, T_s_t: torch.Tensor, height: int, width: int):
    """Target and source views of a slanted plane with a smooth texture, and the target depth.

    The plane n . X = c is fixed in the target camera frame; the texture is a function of the
    plane point's target-frame (x, y), with wavelengths of 10+ pixels so bilinear sampling is
    nearly exact.
    """
    normal = torch.tensor([0.0, -0.25, 1.0])
    c = 8.0
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing='ij')
    pixels = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)  # (H, W, 3)
    rays = pixels @ torch.linalg.inv(K.double()).T  # (H, W, 3), z = 1

    def texture(points: torch.Tensor) -> torch.Tensor:
        x, y = points[..., 0], points[..., 1]
        r = 0.5 + 0.2 * torch.sin(2.3 * x) * torch.cos(1.7 * y) + 0.1 * torch.sin(0.9 * x + 2.1)
        g = 0.5 + 0.2 * torch.cos(1.9 * x - 0.5 * y)
        b = 0.5 + 0.2 * torch.sin(1.3 * y + 0.4 * x)
        return torch.stack([r, g, b]).float()  # (3, H, W)

    n = normal.double()
    depth = c / (rays @ n)  # ray-plane intersection in the target frame: lambda (= z)
    target_points = rays * depth[..., None]
    R, t = T_s_t[:3, :3].double(), T_s_t[:3, 3].double()
    n_s = R @ n  # the plane in source coordinates: n_s . X_s = c + n_s . t
    lam = (c + n_s @ t) / (rays @ n_s)
    source_points = (rays * lam[..., None] - t) @ R  # back to target coordinates: R^T (X - t)
    return (texture(target_points)[None], texture(source_points)[None],
            depth.float()[None, None])


def test_warp_with_the_true_motion_drives_the_photometric_loss_near_zero():
    height, width = 48, 96
    K = torch.tensor([[60.0, 0.0, 47.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]])
    T_s_t = pose_vec_to_mat(torch.tensor([[0.01, -0.03, 0.005]]),
                            torch.tensor([[0.15, 0.02, -0.6]]))[0]
    target, source, depth = _plane_images(K, T_s_t, height, width)

    warped, valid = warp(source, depth, K[None], T_s_t[None])
    loss_true, _, mask = min_reprojection([masked_error(photometric_error(warped, target),
                                                        valid)])
    assert mask.float().mean() > 0.7  # most of the plane stays in view
    identity = photometric_error(source, target).mean()
    wrong = pose_vec_to_mat(torch.tensor([[0.01, -0.03, 0.005]]),
                            torch.tensor([[0.15, 0.02, -0.3]]))
    warped_wrong, valid_wrong = warp(source, depth, K[None], wrong)
    loss_wrong, _, _ = min_reprojection([masked_error(photometric_error(warped_wrong, target),
                                                      valid_wrong)])
    assert identity > 0.05
    assert loss_true < 0.005
    assert loss_wrong > 5 * loss_true

    # Horizontal flip with cx' = W - 1 - cx: the mirrored scene and motion warp just as well.
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0]))
    K_flip = torch.as_tensor(flip_intrinsics(K.numpy(), width), dtype=torch.float32)
    warped_flip, valid_flip = warp(source.flip(-1), depth.flip(-1), K_flip[None],
                                   (mirror @ T_s_t @ mirror)[None])
    loss_flip, _, _ = min_reprojection([masked_error(
        photometric_error(warped_flip, target.flip(-1)), valid_flip)])
    assert loss_flip < 0.005
    assert torch.allclose(warped_flip.flip(-1), warped, atol=1e-4)


# -- smoothness ----------------------------------------------------------------------------------

def test_smoothness_is_zero_for_constant_disparity_and_ignores_the_global_scale():
    image = _images(shape=(2, 3, 16, 24))
    assert edge_aware_smoothness(torch.full((2, 1, 16, 24), 0.3), image) == 0
    disp = _images(seed=3, shape=(2, 1, 16, 24)) * 0.5 + 0.1
    loss = disparity_smoothness(disp, image)
    assert loss > 0
    assert disparity_smoothness(disp * 7.0, image) == pytest.approx(loss.item(), rel=1e-5)
    # Image edges lower the penalty of a disparity edge at the same place.
    edge_disp = torch.zeros(1, 1, 8, 8)
    edge_disp[..., 4:] = 1.0
    flat = torch.zeros(1, 3, 8, 8)
    edged = flat.clone()
    edged[..., 4:] = 1.0
    assert edge_aware_smoothness(edge_disp, edged) < edge_aware_smoothness(edge_disp, flat)


# -- object-motion regularisation -----------------------------------------------------------------

def test_outlier_aware_regulariser_is_zero_for_no_motion_and_spares_explained_pixels():
    image = _images(shape=(1, 3, 8, 8))
    depth = torch.full((1, 1, 8, 8), 10.0)
    zero = torch.zeros(1, 3, 8, 8)
    rigid = torch.full((1, 1, 8, 8), 0.2)
    loss, parts = outlier_aware_loss(zero, rigid, rigid, depth, image, 0.2, 0.01)
    assert loss == 0 and parts['outlier_fraction'] == 0

    motion = torch.zeros(1, 3, 8, 8)
    motion[:, 0, :4] = 1.0  # 1 m of object motion on the top half
    loss, _ = outlier_aware_loss(motion, rigid, rigid, depth, image, 0.2, 0.01)
    assert loss > 0  # motion the photometric error does not need: penalised

    full = rigid.clone()
    full[..., :4, :] = 0.05  # ...but here the motion explains the data: exempt
    omega = outlier_mask(rigid, full)
    assert omega[..., :4, :].all() and not omega[..., 4:, :].any()
    assert rigid_suppression(motion, omega, torch.full((1, 1, 1, 1), 10.0)) == 0
    assert charbonnier(torch.zeros(3)).abs().max() == 0
    assert sparsity_loss(zero) == 0 and sparsity_loss(motion) > 0


def test_cycle_loss_is_zero_for_inverse_motions_only():
    T = pose_vec_to_mat(torch.tensor([[0.02, -0.1, 0.03]]), torch.tensor([[0.3, -0.1, 1.2]]))
    rotation, translation = cycle_losses(T, invert_transform(T))
    assert rotation < 1e-10 and translation < 1e-10
    rotation, translation = cycle_losses(T, T)
    assert rotation > 0 and translation > 0


def test_object_motion_ramp():
    assert object_motion_scale(0, 10, 4) == 0
    assert object_motion_scale(9, 10, 4) == 0
    assert object_motion_scale(10, 10, 4) == pytest.approx(0.25)
    assert object_motion_scale(13, 10, 4) == 1.0
    assert object_motion_scale(500, 10, 4) == 1.0
    assert object_motion_scale(0, 0, 0) == 1.0
    assert math.isclose(object_motion_scale(11, 10, 4), 0.5)
