"""Geometry and pose units: round trips, a warped rendered plane, flow sign, resizing."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rmdepth_ros.model.geometry import (
    backproject,
    inverse_intrinsics,
    object_motion_to_current_frame,
    optical_flow,
    pixel_grid,
    project,
    rigid_flow,
    sample,
    scale_intrinsics,
    source_coords,
    transform_points,
    warp,
)
from rmdepth_ros.model.pose import invert_transform, mat_to_pose_vec, pose_vec_to_mat

H, W = 96, 128


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def intrinsics(batch: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Off-centre principal point so that a half-pixel slip in a convention shows up."""
    K = torch.tensor([[110.0, 0.0, 62.3], [0.0, 105.0, 48.1], [0.0, 0.0, 1.0]], dtype=dtype)
    return K.expand(batch, 3, 3).clone()


def motion(rx: float, ry: float, rz: float, tx: float, ty: float, tz: float,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return pose_vec_to_mat(torch.tensor([[rx, ry, rz]], dtype=dtype),
                           torch.tensor([[tx, ty, tz]], dtype=dtype))


def render_plane(K: torch.Tensor, origin: torch.Tensor, e1: torch.Tensor,
                 e2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray-trace a textured plane {origin + a e1 + b e2} given in this camera's frame.

    Returns the image (1, 3, H, W) and depth (1, 1, H, W), float64; the texture is a smooth
    function of the plane coordinates (a, b), so both views see the same surface pattern.
    """
    grid = pixel_grid(1, H, W, dtype=torch.float64)
    rays = torch.einsum('ij,jhw->ihw', inverse_intrinsics(K[0]),
                        torch.cat([grid[0], torch.ones(1, H, W, dtype=torch.float64)]))
    normal = torch.linalg.cross(e1, e2)
    lam = (normal @ origin) / torch.einsum('i,ihw->hw', normal, rays)  # ray z = 1: depth
    rel = rays * lam - origin[:, None, None]
    a = torch.einsum('i,ihw->hw', e1, rel)
    b = torch.einsum('i,ihw->hw', e2, rel)
    channels = [0.5 + 0.2 * torch.sin(2.0 * a + c) + 0.2 * torch.cos(1.5 * b - 0.5 * c)
                + 0.05 * torch.sin(a + 2 * b) for c in range(3)]
    return torch.stack(channels)[None], lam[None, None]


def plane_views(T_s_t: torch.Tensor, shift: torch.Tensor | None = None):
    """Target image and depth, and the source image of the same plane (moved by `shift`)."""
    K = intrinsics(dtype=torch.float64)
    origin = torch.tensor([0.2, -0.1, 4.0], dtype=torch.float64)
    normal = torch.nn.functional.normalize(torch.tensor([0.3, -0.2, -1.0], dtype=torch.float64),
                                           dim=0)
    e1 = torch.nn.functional.normalize(torch.linalg.cross(normal, torch.tensor(
        [0.0, 1.0, 0.0], dtype=torch.float64)), dim=0)
    e2 = torch.linalg.cross(normal, e1)
    image_t, depth_t = render_plane(K, origin, e1, e2)
    R, t = T_s_t[0, :3, :3].double(), T_s_t[0, :3, 3].double()
    origin_s = R @ origin + t + (0 if shift is None else shift)
    image_s, _ = render_plane(K, origin_s, R @ e1, R @ e2)
    return K.float(), image_t.float(), depth_t.float(), image_s.float()


def test_backproject_project_round_trip() -> None:
    depth = torch.rand(2, 1, H, W) * 50 + 0.1
    K = intrinsics(2)
    pix, z = project(backproject(depth, inverse_intrinsics(K)), K)
    grid = pixel_grid(2, H, W)
    assert torch.allclose(pix, grid, atol=1e-3)
    assert torch.allclose(z, depth, rtol=1e-6)


def test_inverse_intrinsics_matches_general_inverse() -> None:
    K = intrinsics(1, torch.float64)
    K[0, 0, 1] = 0.7  # skew
    assert torch.allclose(inverse_intrinsics(K), torch.linalg.inv(K), atol=1e-15)


def test_pose_round_trip_and_rigidity() -> None:
    axes = torch.nn.functional.normalize(torch.randn(64, 3, dtype=torch.float64), dim=1)
    angles = torch.cat([torch.tensor([0.0, 1e-9, 1e-6, 1e-3, 9.9e-3, 1.01e-2]),
                        torch.linspace(0.02, math.pi - 1e-3, 58)]).double()
    axisangle = axes * angles[:, None]
    translation = torch.randn(64, 3, dtype=torch.float64)
    T = pose_vec_to_mat(axisangle, translation)
    R = T[:, :3, :3]
    eye = torch.eye(3, dtype=torch.float64).expand_as(R)
    assert torch.allclose(R @ R.transpose(1, 2), eye, atol=1e-14)
    assert torch.allclose(torch.linalg.det(R), torch.ones(64, dtype=torch.float64))
    assert torch.equal(T[:, 3], torch.tensor([0.0, 0, 0, 1], dtype=torch.float64).expand(64, 4))
    back_aa, back_t = mat_to_pose_vec(T)
    assert torch.allclose(back_aa, axisangle, atol=1e-10, rtol=1e-9)
    assert torch.equal(back_t, translation)


def test_rodrigues_matches_stable_closed_form() -> None:
    for theta in (1e-8, 1e-4, 9.9e-3, 1.01e-2, 0.5, 2.5):
        v = np.array([0.6, -0.48, 0.64]) * theta
        skew = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
        # 1 - cos(theta) = 2 sin^2(theta / 2) has no cancellation: a float64 reference that is
        # accurate at every angle, independent of the series used inside pose_vec_to_mat.
        expected = (np.eye(3) + math.sin(theta) / theta * skew
                    + 2 * math.sin(theta / 2) ** 2 / theta ** 2 * skew @ skew)
        R = pose_vec_to_mat(torch.from_numpy(v)[None], torch.zeros(1, 3, dtype=torch.float64))
        np.testing.assert_allclose(R[0, :3, :3].numpy(), expected, atol=1e-16, rtol=1e-13)


def test_zero_rotation_is_exact_identity_with_finite_gradient() -> None:
    axisangle = torch.zeros(1, 3, requires_grad=True)
    T = pose_vec_to_mat(axisangle, torch.zeros(1, 3))
    assert torch.equal(T[0], torch.eye(4))
    (T[0, 2, 1] - T[0, 1, 2]).backward()  # d/dv_x of the skew part is 2 at zero
    assert torch.allclose(axisangle.grad, torch.tensor([[2.0, 0.0, 0.0]]))


def test_near_pi_rotation_round_trip() -> None:
    axis = torch.nn.functional.normalize(torch.tensor([[0.3, -0.5, 0.8]], dtype=torch.float64))
    for angle in (math.pi - 1e-7, math.pi):
        T = pose_vec_to_mat(axis * angle, torch.zeros(1, 3, dtype=torch.float64))
        aa, _ = mat_to_pose_vec(T)
        assert abs(aa.norm().item() - angle) < 1e-6
        T_back = pose_vec_to_mat(aa, torch.zeros(1, 3, dtype=torch.float64))
        assert torch.allclose(T_back, T, atol=1e-12)


def test_invert_transform() -> None:
    T = pose_vec_to_mat(torch.randn(4, 3), torch.randn(4, 3))
    inv = invert_transform(T)
    assert torch.allclose(inv, torch.linalg.inv(T), atol=1e-5)
    assert torch.allclose(T @ inv, torch.eye(4).expand(4, 4, 4), atol=1e-6)


def test_identity_motion_gives_exactly_zero_flow() -> None:
    depth = torch.rand(2, 1, H, W) * 80 + 0.1
    for T in (torch.eye(4).expand(2, 4, 4), pose_vec_to_mat(torch.zeros(2, 3), torch.zeros(2, 3))):
        flow, valid = optical_flow(depth, intrinsics(2), T)
        assert torch.equal(flow, torch.zeros_like(flow))
        assert valid.all()


def test_warp_identity_reproduces_image() -> None:
    """Pixel centres map to pixel centres: a half-pixel slip in the sampling would blur this."""
    image = torch.rand(1, 3, H, W)
    warped, valid = warp(image, torch.ones(1, 1, H, W), intrinsics(), torch.eye(4)[None])
    assert valid.all()
    assert torch.allclose(warped, image, atol=1e-5)


def test_flow_sign_for_camera_moving_right() -> None:
    """Current camera 0.5 m to the right of the previous: static points move left (flow_u < 0)."""
    depth = torch.rand(1, 1, H, W) * 10 + 2
    T_prev_cur = motion(0, 0, 0, 0.5, 0, 0)
    flow, _ = optical_flow(depth, intrinsics(), T_prev_cur)
    assert (flow[:, 0] < 0).all()
    assert torch.allclose(flow[:, 0:1], -110.0 * 0.5 / depth, atol=1e-4)
    assert torch.allclose(flow[:, 1], torch.zeros(1, H, W), atol=1e-5)
    # The contract: the point at x now was at x - flow in the previous frame.
    pix, _ = source_coords(depth, intrinsics(), T_prev_cur)
    assert torch.allclose(pixel_grid(1, H, W) - flow, pix, atol=1e-4)


def test_warp_textured_plane_with_true_motion() -> None:
    T = motion(0.02, -0.05, 0.01, 0.3, -0.05, 0.2)
    K, image_t, depth_t, image_s = plane_views(T)
    warped, valid = warp(image_s, depth_t, K, T)
    assert valid.float().mean() > 0.7
    error = (warped - image_t).abs().mean(dim=1, keepdim=True)[valid].mean()
    identity_error = (image_s - image_t).abs().mean(dim=1, keepdim=True)[valid].mean()
    assert error < 2e-3
    assert identity_error > 30 * error


def test_warp_textured_plane_with_object_motion() -> None:
    """A plane that itself moved by c (source-camera metres) is matched by T_obj = c."""
    T = motion(0.0, 0.03, 0.0, -0.2, 0.0, 0.1)
    shift = torch.tensor([0.25, -0.1, 0.3], dtype=torch.float64)
    K, image_t, depth_t, image_s = plane_views(T, shift)
    field = shift.float().view(1, 3, 1, 1).expand(1, 3, H, W)
    warped, valid = warp(image_s, depth_t, K, T, field)
    rigid, rigid_valid = warp(image_s, depth_t, K, T)
    error = (warped - image_t).abs()[valid.expand_as(warped)].mean()
    rigid_error = (rigid - image_t).abs()[rigid_valid.expand_as(rigid)].mean()
    assert valid.float().mean() > 0.7
    assert error < 2e-3
    assert rigid_error > 30 * error
    # A constant field is the same as adding it to the camera translation.
    T_shifted = T.clone()
    T_shifted[0, :3, 3] += shift.float()
    pix_a, valid_a = source_coords(depth_t, K, T, field)
    pix_b, valid_b = source_coords(depth_t, K, T_shifted)
    assert torch.allclose(pix_a, pix_b, atol=1e-4)
    assert torch.equal(valid_a, valid_b)


def test_source_coords_match_explicit_chain_with_varying_object_motion() -> None:
    depth = torch.rand(2, 1, H, W) * 10 + 1
    K = intrinsics(2)
    T = pose_vec_to_mat(torch.randn(2, 3) * 0.05, torch.randn(2, 3) * 0.3)
    field = torch.randn(2, 3, H, W) * 0.2
    pix, valid = source_coords(depth, K, T, field)
    expected, z = project(transform_points(backproject(depth, inverse_intrinsics(K)), T, field), K)
    assert torch.allclose(pix, expected, atol=2e-3)
    assert not torch.allclose(pix, source_coords(depth, K, T)[0], atol=1e-1)
    assert torch.equal(rigid_flow(depth, K, T)[0], optical_flow(depth, K, T)[0])
    in_view = ((expected[:, :1] > -0.49) & (expected[:, :1] < W - 0.51)
               & (expected[:, 1:] > -0.49) & (expected[:, 1:] < H - 0.51))
    assert torch.equal(valid & in_view, in_view & (z > 1e-3))


def test_points_behind_source_camera_are_invalid() -> None:
    depth = torch.full((1, 1, H, W), 5.0)
    depth[..., :, : W // 2] = 20.0
    _, valid = source_coords(depth, intrinsics(), motion(0, 0, 0, 0, 0, -10.0))
    assert valid[..., :, : W // 2].any()  # z_s = 20 - 10 > 0: some still in view
    assert not valid[..., :, W // 2:].any()  # z_s = 5 - 10 < 0: behind the camera


def test_warp_is_differentiable() -> None:
    image_s = torch.rand(1, 3, H, W)
    depth = (torch.rand(1, 1, H, W) * 5 + 2).requires_grad_()
    axisangle = torch.full((1, 3), 0.01, requires_grad=True)
    translation = torch.full((1, 3), 0.1, requires_grad=True)
    field = torch.zeros(1, 3, H, W, requires_grad=True)
    warped, valid = warp(image_s, depth, intrinsics(), pose_vec_to_mat(axisangle, translation),
                         field)
    (warped * valid).sum().backward()
    for tensor in (depth, axisangle, translation, field):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0


@pytest.mark.parametrize('to_hw', [(48, 64), (150, 200), (37, 91)])
def test_scale_intrinsics_agrees_with_cv2_resize(to_hw: tuple[int, int]) -> None:
    """Render a blob at the projection of a 3D point, resize with cv2, find the blob again."""
    K = intrinsics(1, torch.float64)
    point = torch.tensor([0.4, -0.3, 3.0], dtype=torch.float64)
    u, v = (K[0] @ point / point[2])[:2].tolist()
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    blob = np.exp(-((xs - u) ** 2 + (ys - v) ** 2) / (2 * 5.0 ** 2))
    resized = cv2.resize(blob, (to_hw[1], to_hw[0]), interpolation=cv2.INTER_LINEAR)
    ys2, xs2 = np.mgrid[0:to_hw[0], 0:to_hw[1]].astype(np.float64)
    centroid = np.array([(resized * xs2).sum(), (resized * ys2).sum()]) / resized.sum()
    K2 = scale_intrinsics(K, (H, W), to_hw)
    expected = (K2[0] @ point / point[2])[:2].numpy()
    # A half-pixel slip in the convention would be off by 0.14 to 0.31 px at these sizes.
    np.testing.assert_allclose(centroid, expected, atol=0.01)


def test_scale_intrinsics_round_trip_and_batch() -> None:
    K = intrinsics(3)
    K2 = scale_intrinsics(scale_intrinsics(K, (H, W), (192, 640)), (192, 640), (H, W))
    assert torch.allclose(K2, K, atol=1e-4)
    half = scale_intrinsics(K, (H, W), (H // 2, W // 2))
    assert torch.allclose(half[0, 0, 2], torch.tensor((62.3 + 0.5) / 2 - 0.5))
    assert half.shape == (3, 3, 3)


def test_object_motion_to_current_frame() -> None:
    """-R^T T_obj is the displacement from the previous time to now in the current frame."""
    T_prev_cur = pose_vec_to_mat(torch.tensor([[0.1, -0.4, 0.2]], dtype=torch.float64),
                                 torch.tensor([[0.5, 0.1, -1.0]], dtype=torch.float64))
    points = torch.randn(1, 3, 4, 5, dtype=torch.float64) + torch.tensor([0, 0, 6.0]).view(3, 1, 1)
    T_obj = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    points_prev = transform_points(points, T_prev_cur, T_obj)  # previous camera, previous time
    was_in_current_frame = transform_points(points_prev, invert_transform(T_prev_cur))
    displacement = object_motion_to_current_frame(T_obj, T_prev_cur)
    assert torch.allclose(displacement, points - was_in_current_frame, atol=1e-12)
    assert not torch.allclose(displacement, -T_obj, atol=1e-2)  # the rotation matters


def test_sample_is_grid_sample_at_pixel_centres() -> None:
    """`sample` fills its scale on the device (no host copy, so CUDA graphs can capture it);
    the result is exactly grid_sample with the pixel-centre normalisation (x + 0.5) 2 / W - 1."""
    torch.manual_seed(3)
    image = torch.rand(2, 3, 12, 20)
    pix = torch.rand(2, 2, 9, 7) * torch.tensor([24.0, 16.0]).view(1, 2, 1, 1) - 2.0
    scale = torch.tensor([2.0 / 20, 2.0 / 12]).view(1, 2, 1, 1)
    grid = ((pix + 0.5) * scale - 1.0).permute(0, 2, 3, 1)
    expected = F.grid_sample(image, grid, mode='bilinear', padding_mode='border',
                             align_corners=False)
    assert torch.equal(sample(image, pix), expected)
