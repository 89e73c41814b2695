"""Moving-object mask: the absolute criterion on hand-built object-motion fields, and the
estimator's temporal consistency (docs/conventions.md, "Moving-object mask")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.geometry import (
    MASK_MIN_RELATIVE,
    MASK_MIN_SHIFT,
    motion_mask,
    persistent_mask,
    source_coords,
)

H, W = 32, 96


def _k(width: int = W, height: int = H) -> torch.Tensor:
    return torch.tensor([[[0.58 * width, 0, width / 2 - 0.5], [0, 1.92 * height, height / 2 - 0.5],
                          [0, 0, 1.0]]])


def _camera(tz: float = 0.0) -> torch.Tensor:
    T = torch.eye(4).unsqueeze(0)
    T[0, 2, 3] = tz
    return T


def _field(vector: tuple[float, float, float], depth: float, box=(slice(8, 20), slice(30, 50)),
           height: int = H, width: int = W) -> torch.Tensor:
    """T_obj of `vector` metres on a box, zero elsewhere."""
    field = torch.zeros(1, 3, height, width)
    field[0, :, box[0], box[1]] = torch.tensor(vector).view(3, 1, 1)
    return field


def test_zero_object_motion_marks_nothing_whatever_the_camera_does():
    depth = torch.full((1, 1, H, W), 5.0)
    for T in (_camera(), _camera(2.0), _camera(-1.0)):
        assert not motion_mask(torch.zeros(1, 3, H, W), depth, _k(), T).any()


def test_lateral_motion_above_both_thresholds_marks_exactly_the_object():
    depth = torch.full((1, 1, H, W), 10.0)
    field = _field((0.5, 0.0, 0.0), 10.0)  # 5 % of the depth, 0.58 * 96 * 0.05 = 2.8 px
    for T in (_camera(), _camera(1.0)):
        mask = motion_mask(field, depth, _k(), T)
        assert mask.shape == (1, 1, H, W) and mask.dtype == torch.bool
        assert torch.equal(mask[0, 0], field[0, 0] != 0)


def test_small_relative_motion_is_not_marked_even_when_it_shifts_pixels():
    depth = torch.full((1, 1, H, W), 2.0)
    field = _field((0.05, 0.0, 0.0), 2.0)  # 2.5 % of the depth but 1.4 px on this image
    assert not motion_mask(field, depth, _k(), _camera()).any()
    # The same relative motion is marked once the relative threshold is lowered.
    assert motion_mask(field, depth, _k(), _camera(), min_relative=0.02).any()


def test_motion_along_the_ray_that_barely_moves_the_pixel_is_not_marked():
    depth = torch.full((1, 1, H, W), 10.0)
    centre = (slice(15, 17), slice(47, 49))  # at the principal point (47.5, 15.5)
    field = _field((0.0, 0.0, 1.0), 10.0, box=centre)  # 10 % of the depth, along the ray
    moved, _ = source_coords(depth, _k(), _camera(), field)
    rigid, _ = source_coords(depth, _k(), _camera(), None)
    assert (moved - rigid).norm(dim=1).max() < MASK_MIN_SHIFT * W
    assert not motion_mask(field, depth, _k(), _camera()).any()
    # Away from the principal point the same motion shifts the pixel and is marked.
    corner = (slice(0, 3), slice(0, 5))
    assert motion_mask(_field((0.0, 0.0, 1.0), 10.0, box=corner), depth, _k(), _camera()).any()


def test_criterion_does_not_depend_on_the_image_size():
    for width, height in ((96, 32), (384, 128)):
        depth = torch.full((1, 1, height, width), 10.0)
        box = (slice(height // 4, height // 2), slice(width // 3, width // 2))
        for relative, expected in ((MASK_MIN_RELATIVE * 0.9, False), (0.1, True)):
            field = _field((10.0 * relative, 0.0, 0.0), 10.0, box, height, width)
            mask = motion_mask(field, depth, _k(width, height), _camera())
            assert bool(mask.any()) is expected


def test_persistent_mask_follows_the_point_to_where_it_was():
    evidence = torch.zeros(1, 1, H, W, dtype=torch.bool)
    evidence[..., 10:14, 40:44] = True
    previous = torch.zeros_like(evidence)
    previous[..., 10:14, 30:34] = True  # the object was 10 px to the left
    pix = torch.stack(torch.meshgrid(torch.arange(W, dtype=torch.float32),
                                     torch.arange(H, dtype=torch.float32), indexing='xy'))[None]
    in_view = torch.ones_like(evidence)
    assert not persistent_mask(evidence, previous, pix, in_view).any()  # not where it was
    moved = pix.clone()
    moved[:, 0] -= 10.0
    assert torch.equal(persistent_mask(evidence, previous, moved, in_view), evidence)
    assert not persistent_mask(evidence, previous, moved, ~in_view).any()
    moved[:, 0] += 1.0  # within one pixel still counts
    assert torch.equal(persistent_mask(evidence, previous, moved, in_view), evidence)


class _MovingBox(nn.Module):
    """Test double of the motion network: no camera motion; a box moving sideways by
    `relative` times its depth per frame (None = no object motion this frame)."""

    def __init__(self, schedule: list[float | None]) -> None:
        super().__init__()
        self.schedule = schedule

    def forward(self, target, source, depth, k, object_motion_scale=1.0):
        batch, _, height, width = target.shape
        field = torch.zeros(batch, 3, height, width)
        relative = self.schedule.pop(0)
        if relative is not None:
            field[:, 0, 2:6, 8:16] = relative * depth[:, 0, 2:6, 8:16]
        return {'T': torch.eye(4).expand(batch, 4, 4), 'object_motion': field}


def test_estimator_marks_only_persistent_evidence(tiny_weights: Path) -> None:
    est = Estimator(tiny_weights, device='cpu', output='network')
    weak, strong = MASK_MIN_RELATIVE * 1.5, MASK_MIN_RELATIVE * 4  # both shift > 1 px
    est.model.motion_net = _MovingBox([weak, weak, None, weak, strong, strong])
    image = np.zeros((64, 192, 3), np.uint8)
    k = np.array([[0.58 * 192, 0, 95.5], [0, 1.92 * 64, 31.5], [0, 0, 1.0]])
    marked = [est.process(image, k, 0.1 * i).motion_mask for i in range(5)]
    assert marked[0] is None
    assert not marked[1].any()  # first motion frame: weak evidence is not enough yet
    assert marked[2].sum() > 0  # confirmed by the previous frame
    assert not marked[3].any() and not marked[4].any()  # a gap breaks persistence
    est.reset()
    est.process(image, k, 1.0)
    assert est.process(image, k, 1.1).motion_mask.sum() > 0  # strong evidence right after reset
