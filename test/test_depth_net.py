"""Unit tests of the depth network: encoder, RMU, residual upsampling, decoder, DepthNet."""

from __future__ import annotations

import pytest
import torch
from torch import nn
import torch.nn.functional as F

from rmdepth_ros.model.config import TINY, RMDepthConfig
from rmdepth_ros.model.depth_net import DepthNet, disp_to_depth
from rmdepth_ros.model.encoder import (
    BasicBlock,
    PyramidEncoder,
    ResNet18Encoder,
    build_encoder,
    load_torchvision_resnet18,
)
from rmdepth_ros.model.residual_upsampling import BilinearConvUpsampling, ResidualUpsampling
from rmdepth_ros.model.rmu import ConcatFusion, RecurrentModulationUnit

torch.set_num_threads(1)

DEFAULT = RMDepthConfig()
# Sizes as (H, W): 64x32, 96x64 and 128x40 in width x height.
SIZES = [(32, 64), (64, 96), (40, 128)]


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _perturb(module: nn.Module, seed: int = 0, scale: float = 0.1) -> None:
    """Add noise to every parameter, so zero-initialised branches become active."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def _image(height: int, width: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _torchvision_keys(layers: tuple[int, ...] = (1, 2)) -> list[str]:
    """The state-dict key names torchvision's resnet18 uses, written out from its naming scheme."""
    bn = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
    keys = ['conv1.weight'] + [f'bn1.{s}' for s in bn]
    for layer in layers:
        for block in (0, 1):
            p = f'layer{layer}.{block}'
            keys += [f'{p}.conv1.weight'] + [f'{p}.bn1.{s}' for s in bn]
            keys += [f'{p}.conv2.weight'] + [f'{p}.bn2.{s}' for s in bn]
            if block == 0 and layer > 1:
                keys += [f'{p}.downsample.0.weight'] + [f'{p}.downsample.1.{s}' for s in bn]
    return keys


def _fake_torchvision_state_dict(seed: int = 1) -> dict[str, torch.Tensor]:
    """Random tensors under torchvision ResNet-18 keys, including layer3, layer4 and fc."""
    gen = torch.Generator().manual_seed(seed)
    # layer3/layer4 have the torchvision shapes; built from our block only to fabricate them.
    dropped = {f'layer{i}.{k}': v for i, c in ((3, 128), (4, 256))
               for k, v in nn.Sequential(BasicBlock(c, 2 * c, 2),
                                         BasicBlock(2 * c, 2 * c)).state_dict().items()}
    assert set(dropped) == set(_torchvision_keys((3, 4))) - set(_torchvision_keys())
    dropped.update({'fc.weight': torch.empty(1000, 512), 'fc.bias': torch.empty(1000)})
    state = {}
    for key, value in {**ResNet18Encoder(DEFAULT).state_dict(), **dropped}.items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(1234 + len(state))
        else:
            state[key] = torch.rand(value.shape, generator=gen) + 0.5
    return state


# --- size and shapes -------------------------------------------------------------------------


def test_default_parameter_count_matches_paper() -> None:
    net = DepthNet(DEFAULT)
    total = _count(net)
    assert total == 2_976_764  # spec section 7, analytic
    assert abs(total - 2.97e6) <= 0.03 * 2.97e6
    assert _count(net.encoder) == 683_072
    assert _count(build_encoder(DEFAULT.replace(encoder='pyramid'))) == 687_552


@pytest.mark.parametrize('cfg', [TINY, DEFAULT], ids=['tiny', 'default'])
@pytest.mark.parametrize('size', SIZES, ids=lambda s: f'{s[1]}x{s[0]}')
def test_output_shapes_and_ranges(cfg: RMDepthConfig, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    net = DepthNet(cfg).eval()
    height, width = size
    with torch.no_grad():
        out = net(_image(height, width))
    disps = out['disp']
    assert isinstance(disps, tuple) and len(disps) == 4
    for scale, disp in enumerate(disps):
        assert disp.shape == (2, 1, height >> scale, width >> scale)
        assert torch.isfinite(disp).all()
        assert disp.min() > 0 and disp.max() < 1
    depth = out['depth']
    assert depth.shape == (2, 1, height, width)
    assert depth.min() >= cfg.min_depth and depth.max() <= cfg.max_depth
    torch.testing.assert_close(depth, disp_to_depth(disps[0], cfg.min_depth, cfg.max_depth)[1])


def test_size_not_multiple_of_8_is_a_clear_error() -> None:
    net = DepthNet(TINY)
    with pytest.raises(ValueError, match=r'multiples of 8, got 64x30 \(width x height\)'):
        net(_image(30, 64))
    with pytest.raises(ValueError, match='multiples of 8'):
        net(_image(32, 60))
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        net(torch.rand(1, 1, 32, 64))


def test_forward_stores_nothing_on_modules() -> None:
    net = DepthNet(TINY)
    before = {name: set(vars(m)) for name, m in net.named_modules()}
    net(_image(32, 64))
    assert {name: set(vars(m)) for name, m in net.named_modules()} == before


def test_every_parameter_gets_a_gradient() -> None:
    torch.manual_seed(0)
    net = DepthNet(TINY)
    out = net(_image(32, 64))
    sum(d.mean() for d in out['disp']).backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []


# --- building blocks -------------------------------------------------------------------------


def test_residual_upsampling_starts_as_exact_bilinear() -> None:
    torch.manual_seed(0)
    up = ResidualUpsampling(6)
    x = torch.randn(2, 6, 5, 7)
    bilinear = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
    assert up(x).shape == (2, 6, 10, 14)
    assert torch.equal(up(x), bilinear)
    assert torch.equal(ResidualUpsampling(6, learned=False)(x), bilinear)
    assert _count(ResidualUpsampling(6, learned=False)) == 0
    _perturb(up)  # the learned high-frequency branch must really be in the sum
    assert not torch.allclose(up(x), bilinear)


def test_bilinear_conv_upsampling_ablation() -> None:
    up = BilinearConvUpsampling(4)
    assert up(torch.randn(1, 4, 3, 5)).shape == (1, 4, 6, 10)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in up.modules())


def test_rmu_starts_with_identity_modulation() -> None:
    torch.manual_seed(0)
    rmu = RecurrentModulationUnit(feature_channels=5, hidden_channels=3)
    feature = torch.randn(2, 5, 4, 6)
    hidden = torch.tanh(torch.randn(2, 3, 4, 6))
    w, b = rmu.modulation_params(hidden, feature)
    assert torch.equal(w, torch.ones_like(feature))
    assert torch.equal(b, torch.zeros_like(feature))
    # With w = 1, b = 0 the step is the plain gated update on the unmodulated feature.
    candidate = torch.tanh(rmu.candidate(feature))
    z = torch.sigmoid(rmu.gate(torch.cat([hidden, candidate], dim=1)))
    expected = (1 - z) * hidden + z * candidate
    out = rmu(hidden, feature)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert out.abs().max() < 1
    # Once the modulation conv is trained (here: perturbed) the hidden state steers the feature.
    _perturb(rmu.modulation)
    assert not torch.allclose(rmu(hidden, feature), expected)


def test_rmu_without_modulation_ignores_hidden_in_candidate() -> None:
    torch.manual_seed(0)
    rmu = RecurrentModulationUnit(5, 3, modulation=False)
    assert rmu.modulation is None
    _perturb(rmu)
    feature = torch.randn(1, 5, 4, 4)
    hidden = torch.zeros(1, 3, 4, 4)
    # From h = 0 the update is z * tanh(Conv_c(F)); the sign pattern follows F' alone.
    out = rmu(hidden, feature)
    candidate = torch.tanh(rmu.candidate(feature))
    z = torch.sigmoid(rmu.gate(torch.cat([hidden, candidate], dim=1)))
    torch.testing.assert_close(out, z * candidate)
    assert _count(rmu) < _count(RecurrentModulationUnit(5, 3))


def test_concat_fusion_shape_and_range() -> None:
    fusion = ConcatFusion(5, 3)
    out = fusion(torch.randn(2, 3, 4, 6), torch.randn(2, 5, 4, 6))
    assert out.shape == (2, 3, 4, 6) and out.abs().max() < 1


def test_iteration_count_changes_output_and_not_parameters() -> None:
    torch.manual_seed(0)
    once = DepthNet(TINY.replace(iterations=(1, 1, 1))).eval()
    _perturb(once)
    thrice = DepthNet(TINY.replace(iterations=(3, 1, 1))).eval()
    # Weights are shared across iterations: the same state dict fits both, strictly.
    thrice.load_state_dict(once.state_dict(), strict=True)
    image = _image(32, 64)
    with torch.no_grad():
        a, b = once(image), thrice(image)
    assert not torch.allclose(a['disp'][3], b['disp'][3])
    assert not torch.allclose(a['depth'], b['depth'])


@pytest.mark.parametrize('change', [
    {'use_rmu': False}, {'use_modulation': False}, {'residual_upsampling': False},
    {'encoder': 'pyramid'},
], ids=lambda c: '-'.join(f'{k}={v}' for k, v in c.items()))
def test_ablation_switches_build_and_run(change: dict) -> None:
    torch.manual_seed(0)
    cfg = TINY.replace(**change)
    net = DepthNet(cfg)
    modules = list(net.modules())
    if change.get('use_rmu') is False:
        assert not any(isinstance(m, RecurrentModulationUnit) for m in modules)
        assert sum(isinstance(m, ConcatFusion) for m in modules) == 3
    if change.get('use_modulation') is False:
        assert all(c.modulation is None for c in net.decoder.cells)
    if change.get('residual_upsampling') is False:
        assert not any(isinstance(m, nn.ConvTranspose2d) for m in modules)
        assert sum(isinstance(m, BilinearConvUpsampling) for m in modules) == 3
    if change.get('encoder') == 'pyramid':
        assert isinstance(net.encoder, PyramidEncoder)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in modules)
    assert _count(net) != _count(DepthNet(TINY))
    out = net(_image(40, 64))
    assert [d.shape[-2:] for d in out['disp']] == [(40, 64), (20, 32), (10, 16), (5, 8)]
    assert all(((d > 0) & (d < 1)).all() for d in out['disp'])
    out['depth'].mean().backward()
    assert all(p.grad is not None for p in net.encoder.parameters())


# --- torchvision weights ---------------------------------------------------------------------


def test_encoder_keys_are_torchvision_names() -> None:
    encoder = ResNet18Encoder(DEFAULT)
    assert list(encoder.state_dict()) == _torchvision_keys()
    assert encoder.channels == (64, 64, 128)
    e2, e3, e4 = encoder(_image(32, 64, batch=1))
    assert e2.shape == (1, 64, 16, 32) and e3.shape == (1, 64, 8, 16)
    assert e4.shape == (1, 128, 4, 8)


def test_load_torchvision_state_dict_file(tmp_path) -> None:
    state = _fake_torchvision_state_dict()
    path = tmp_path / 'resnet18.pth'
    torch.save(state, path)
    encoder = ResNet18Encoder(DEFAULT)
    load_torchvision_resnet18(encoder, path)
    loaded = encoder.state_dict()
    assert not any(k.startswith(('layer3', 'layer4', 'fc')) for k in loaded)
    for key, value in loaded.items():
        assert torch.equal(value, state[key]), key
    assert torch.equal(encoder.layer2[0].downsample[1].running_var,
                       state['layer2.0.downsample.1.running_var'])
    # The normalisation constants are not weights and must survive loading.
    assert torch.allclose(encoder.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    # An in-memory mapping works the same way, into a DepthNet's encoder.
    net = DepthNet(DEFAULT)
    load_torchvision_resnet18(net.encoder, state)
    assert torch.equal(net.encoder.conv1.weight, state['conv1.weight'])


@pytest.mark.parametrize('corruption', ['missing', 'misshaped', 'unexpected'])
def test_load_torchvision_rejects_bad_state_dicts(corruption: str) -> None:
    state = _fake_torchvision_state_dict()
    if corruption == 'missing':
        del state['layer2.1.bn2.running_mean']
        expected = r'missing keys: layer2\.1\.bn2\.running_mean'
    elif corruption == 'misshaped':
        state['layer1.0.conv2.weight'] = torch.zeros(64, 32, 3, 3)
        expected = r'layer1\.0\.conv2\.weight: expected \(64, 64, 3, 3\), got \(64, 32, 3, 3\)'
    else:
        state['module.conv1.weight'] = state['conv1.weight']
        expected = r'unexpected keys: module\.conv1\.weight'
    encoder = ResNet18Encoder(DEFAULT)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    with pytest.raises(ValueError, match=expected):
        load_torchvision_resnet18(encoder, state)
    # Strict means all or nothing: a rejected file leaves the encoder untouched.
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())


def test_load_torchvision_tolerates_missing_num_batches_tracked() -> None:
    state = {k: v for k, v in _fake_torchvision_state_dict().items()
             if not k.endswith('num_batches_tracked')}
    encoder = ResNet18Encoder(DEFAULT)
    load_torchvision_resnet18(encoder, state)
    assert torch.equal(encoder.bn1.weight, state['bn1.weight'])
    assert encoder.bn1.num_batches_tracked.item() == 0


# --- determinism and depth mapping -----------------------------------------------------------


def test_determinism_on_cpu() -> None:
    image = _image(32, 64)
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        net = DepthNet(TINY).eval()
        with torch.no_grad():
            outputs.append((net(image), net(image)))
    (a1, a2), (b1, _) = outputs
    for x, y, z in zip(a1['disp'], a2['disp'], b1['disp'], strict=True):
        assert torch.equal(x, y) and torch.equal(x, z)
    assert torch.equal(a1['depth'], b1['depth'])


def test_disp_to_depth_range() -> None:
    sigmoid = torch.tensor([0.0, 0.5, 1.0])
    disp, depth = disp_to_depth(sigmoid, 0.1, 100.0)
    torch.testing.assert_close(depth[0], torch.tensor(100.0))
    torch.testing.assert_close(depth[2], torch.tensor(0.1))
    torch.testing.assert_close(disp, 1.0 / depth)
    torch.testing.assert_close(disp[1], torch.tensor(0.01 + 0.5 * (10.0 - 0.01)))
    assert depth[0] > depth[1] > depth[2]
