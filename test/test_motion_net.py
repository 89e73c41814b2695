"""Motion network on the tiny config: shapes, rigid output, ablation switches, gradients."""

from __future__ import annotations

import pytest
import torch

from rmdepth_ros.model.config import TINY, RMDepthConfig
from rmdepth_ros.model.geometry import warp
from rmdepth_ros.model.motion_net import MotionNet


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def inputs(batch: int = 2, height: int = 32, width: int = 48):
    target = torch.rand(batch, 3, height, width)
    source = torch.rand(batch, 3, height, width)
    depth = torch.rand(batch, 1, height, width) * 10 + 1
    K = torch.tensor([[0.8 * width, 0, width / 2 - 0.5], [0, 0.8 * width, height / 2 - 0.5],
                      [0, 0, 1.0]]).expand(batch, 3, 3).clone()
    return target, source, depth, K


@pytest.mark.parametrize('height, width', [(32, 48), (8, 8), (24, 72)])
def test_output_shapes(height: int, width: int) -> None:
    out = MotionNet(TINY)(*inputs(2, height, width))
    assert out['axisangle'].shape == (2, 3) and out['translation'].shape == (2, 3)
    assert out['T'].shape == (2, 4, 4)
    assert out['object_motion'].shape == (2, 3, height, width)
    levels = out['object_motion_levels']
    assert [f.shape for f in levels] == [(2, 3, height // 8, width // 8),
                                         (2, 3, height // 4, width // 4),
                                         (2, 3, height // 2, width // 2)]
    assert out['object_motion'].abs().sum() > 0


def test_T_is_rigid_transform_built_from_outputs() -> None:
    out = MotionNet(TINY)(*inputs())
    T = out['T']
    R = T[:, :3, :3]
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3).expand(2, 3, 3), atol=1e-6)
    assert torch.allclose(torch.linalg.det(R), torch.ones(2), atol=1e-6)
    assert torch.equal(T[:, 3], torch.tensor([0.0, 0, 0, 1]).expand(2, 4))
    assert torch.equal(T[:, :3, 3], out['translation'])
    # The x0.01 output scaling keeps the untrained motion near identity.
    assert out['axisangle'].abs().max() < 0.1 and out['translation'].abs().max() < 0.1


def test_no_object_motion_switch() -> None:
    net = MotionNet(TINY.replace(object_motion=False))
    full = MotionNet(TINY)
    assert not any('object' in name for name, _ in net.named_parameters())
    assert any('object' in name for name, _ in full.named_parameters())
    extra = sum(p.numel() for p in full.parameters()) - sum(p.numel() for p in net.parameters())
    assert extra > 0
    out = net(*inputs())
    assert torch.equal(out['object_motion'], torch.zeros(2, 3, 32, 48))
    assert all(not f.any() for f in out['object_motion_levels'])


def test_rewarp_switch_same_weights_different_path() -> None:
    with_rewarp = MotionNet(TINY)
    without = MotionNet(TINY.replace(rewarp=False))
    without.load_state_dict(with_rewarp.state_dict())  # rewarp changes the flow, not the weights
    args = inputs()
    a, b = with_rewarp(*args), without(*args)
    assert torch.equal(a['T'], b['T'])
    assert b['object_motion'].abs().sum() > 0
    assert not torch.allclose(a['object_motion'], b['object_motion'])


def test_object_motion_scale() -> None:
    args = inputs()
    net = MotionNet(TINY)
    zero = net(*args, object_motion_scale=0.0)
    assert torch.equal(zero['object_motion'], torch.zeros(2, 3, 32, 48))
    assert all(not f.any() for f in zero['object_motion_levels'])
    assert torch.equal(zero['T'], net(*args)['T'])
    # Without re-warping the scale is a pure multiplier (with it, it also moves the warps).
    rigid_path = MotionNet(TINY.replace(rewarp=False))
    half = rigid_path(*args, object_motion_scale=0.5)['object_motion']
    assert torch.allclose(half, 0.5 * rigid_path(*args)['object_motion'], atol=1e-9)


def test_gradients_reach_pose_and_object_decoders_but_not_through_rewarp() -> None:
    net = MotionNet(TINY)
    target, source, depth, K = inputs()
    depth.requires_grad_()
    out = net(target, source, depth, K)
    # Re-encoding inputs are built from detached depth and motion (spec default 14).
    grads = torch.autograd.grad(out['object_motion'].sum(), depth, allow_unused=True,
                                retain_graph=True)
    assert grads[0] is None
    warped, valid = warp(source, depth, K, out['T'], out['object_motion'])
    ((warped - target).abs() * valid).mean().backward()
    assert depth.grad is not None and depth.grad.abs().sum() > 0
    groups = {'pose': net.pose_decoder, 'encoder': net.encoder}
    groups.update({f'object{i}': d for i, d in enumerate(net.object_decoders)})
    for name, module in groups.items():
        total = sum(p.grad.abs().sum() for p in module.parameters() if p.grad is not None)
        assert total > 0, name
    assert all(d.scale.grad is not None and d.scale.grad != 0 for d in net.object_decoders)


def test_deterministic_and_stateless() -> None:
    net = MotionNet(TINY)
    args = inputs()
    attributes = set(vars(net))
    a, b = net(*args), net(*args)
    assert set(vars(net)) == attributes
    for key in ('T', 'object_motion'):
        assert torch.equal(a[key], b[key])


def test_bad_sizes_are_rejected() -> None:
    net = MotionNet(TINY)
    with pytest.raises(ValueError, match='multiples of 8'):
        net(*inputs(1, 36, 48))
    target, source, depth, K = inputs()
    with pytest.raises(ValueError, match='depth_t'):
        net(target, source, depth[:, :, :16], K)
    with pytest.raises(ValueError, match='K must be'):
        net(target, source, depth, K[0])


def test_default_parameter_count() -> None:
    """Spec 3.3 layer sizes: encoder 295,552 + pose 1,476,870 + object decoders 190,668."""
    def conv(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k * k + c_out

    encoder = conv(6, 32, 7) + conv(32, 32, 3) + conv(32, 64, 3) + conv(64, 64, 3) \
        + conv(64, 128, 3) + conv(128, 128, 3)
    pose = conv(128, 256, 3) + 2 * conv(256, 256, 3) + conv(256, 6, 1)
    objects = sum(conv(c + extra, 64, 3) + conv(64, 32, 3) + conv(32, 3, 3) + 1
                  for c, extra in ((128, 0), (64, 3), (32, 3)))
    net = MotionNet(RMDepthConfig())
    assert sum(p.numel() for p in net.parameters()) == encoder + pose + objects == 1_963_090


def test_geometry_stays_float32_under_autocast() -> None:
    net = MotionNet(TINY)
    args = inputs()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = net(*args)
    R = out['T'][:, :3, :3]
    assert out['T'].dtype == torch.float32
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3).expand(2, 3, 3), atol=1e-6)
    reference = net(*args)['object_motion']
    tolerance = 0.05 * reference.abs().max().item()
    assert torch.allclose(out['object_motion'].float(), reference, atol=tolerance)


def test_new_pose_gains_keep_the_function_of_weights_trained_with_others():
    import dataclasses

    torch.manual_seed(0)
    old = MotionNet(TINY).eval()
    with torch.no_grad():  # a pose head that predicts something
        old.pose_decoder.out.bias.copy_(torch.linspace(-3.0, 3.0, 6))
    gains = dataclasses.replace(TINY, pose_rotation_scale=0.1, pose_translation_scale=1.0)
    new = MotionNet(gains).eval()
    new.load_state_dict(old.state_dict(), strict=True)
    args = inputs(1, 32, 64)
    before = old(*args)['T']
    assert not torch.allclose(new(*args)['T'], before, atol=1e-4)
    new.pose_decoder.adopt_gains(TINY.pose_rotation_scale, TINY.pose_translation_scale)
    torch.testing.assert_close(new(*args)['T'], before, atol=1e-6, rtol=1e-5)


def test_coordinate_inputs_start_from_the_same_function_and_see_position():
    import dataclasses

    from rmdepth_ros.model.pose_decoder import add_coord_inputs

    torch.manual_seed(0)
    plain = MotionNet(TINY).eval()
    coords = MotionNet(dataclasses.replace(TINY, pose_coords=True)).eval()
    coords.load_state_dict(add_coord_inputs(plain.state_dict(), 'pose_decoder.'), strict=True)
    args = inputs(1, 32, 64)
    torch.testing.assert_close(coords(*args)['T'], plain(*args)['T'])
    # With non-zero coordinate weights, mirrored halves of a feature map no longer average out.
    decoder = coords.pose_decoder
    with torch.no_grad():
        first = decoder.convs[0][0] if isinstance(decoder.convs[0], torch.nn.Sequential) \
            else decoder.convs[0]
        first.weight[:, -2:].normal_()
    feature = torch.zeros(1, TINY.motion_channels[2], 4, 8)
    feature[:, 0, :, :4] = 1.0
    mirrored = feature.flip(-1)
    assert not torch.allclose(decoder(feature)[1], decoder(mirrored)[1])
