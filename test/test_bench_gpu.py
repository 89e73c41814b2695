"""bench/bench_gpu.py on the CPU (its JSON layout, skips and exit codes) and the runner variants.

The CUDA paths (precisions, CUDA graphs) run only where a GPU is; they are skipped here with a
reason, never faked. On the CPU the bench checks its own plumbing: eager fp32 against the CPU
fp32 reference must agree exactly, channels-last within the fp32 tolerance.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rmdepth_ros.backends.runners import BackendError, TorchRunner
from rmdepth_ros.backends.torch_variants import build_runner, parse_variant
from rmdepth_ros.evaluation.agreement import agreement, check_tolerance
from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.weights import load_weights

BENCH = Path(__file__).resolve().parents[1] / 'bench' / 'bench_gpu.py'
NO_CUDA = not torch.cuda.is_available()
ROW_KEYS = {'backend', 'variant', 'precision', 'input', 'subject', 'status'}
TIMED_KEYS = {'median_ms', 'p95_ms', 'fps', 'iterations'}


def _bench():
    spec = importlib.util.spec_from_file_location('bench_gpu', BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_cpu_run_writes_the_documented_json(tiny_weights: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / 'gpu-cpu.json'
    code = _bench().main(['--quick', '--device', 'cpu', '--weights', str(tiny_weights),
                          '--sizes', '64x32', '--precisions', 'fp32', 'fp16',
                          '--accuracy-frames', '2', '--out', str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert '| input | precision | backend / variant |' in printed and f'wrote {out}' in printed
    result = json.loads(out.read_text())  # strict JSON: no NaN
    env = result['environment']
    assert env['device']['device_type'] == 'cpu' and env['device']['name'].startswith('cpu')
    assert {'torch', 'cuda', 'cudnn', 'python', 'numpy'} <= set(env['versions'])
    assert {'cudnn_benchmark', 'cudnn_allow_tf32'} <= set(env['settings'])
    assert set(result['tolerances']) == {'fp32', 'fp16', 'bf16'}
    rows = result['rows']
    assert all(ROW_KEYS <= set(row) for row in rows)
    ok = {(r['subject'], r['variant']): r for r in rows if r['status'] == 'ok'}
    assert set(ok) == {(s, v) for s in ('depth', 'motion', 'pipeline')
                       for v in ('eager', 'channels_last')}
    for row in ok.values():
        assert TIMED_KEYS <= set(row) and row['fps'] > 0 and row['p95_ms'] >= row['median_ms']
    pipeline = ok[('pipeline', 'eager')]
    assert 0.0 <= pipeline['outside_networks_share'] < 1.0
    assert pipeline['networks_ms'] > 0
    assert {'preprocess', 'depth', 'motion', 'postprocess', 'total'} <= set(
        pipeline['stages_ms'])
    # Same code, same CPU: the bench's own comparison must find no difference at all.
    assert pipeline['agreement']['depth_rel_median'] == 0.0
    assert pipeline['agreement']['flow_epe_px'] == 0.0 and pipeline['within_tolerance']
    assert ok[('pipeline', 'channels_last')]['within_tolerance']
    skipped = [r for r in rows if r['precision'] == 'fp16']
    assert skipped and all(r['status'] == 'skipped' and 'CUDA' in r['reason'] for r in skipped)
    onnx = [r for r in rows if r['backend'].startswith('onnxruntime:')]
    assert {r['backend'] for r in onnx} == {'onnxruntime:CUDAExecutionProvider',
                                            'onnxruntime:TensorrtExecutionProvider'}
    assert all(r['status'] == 'untested' and r['reason'] for r in onnx)
    assert result['choice'] == {'fastest': None, 'default': None}  # not at 640x192


@pytest.mark.skipif(not NO_CUDA, reason='tests the no-CUDA exit; this machine has CUDA')
def test_without_cuda_one_line_and_exit_3(capsys: pytest.CaptureFixture) -> None:
    assert _bench().main(['--quick']) == 3
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and 'no CUDA device' in lines[0]


@pytest.mark.parametrize('argv', [['--sizes', '100x30'], ['--variants', 'turbo'],
                                  ['--accuracy-frames', '1']])
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        _bench().main(['--device', 'cpu', *argv])
    assert stop.value.code == 2


def test_variant_names() -> None:
    assert parse_variant('eager') == frozenset()
    assert parse_variant('channels_last+cuda_graph') == {'channels_last', 'cuda_graph'}
    for bad in ('', 'fast', 'compile+compile', 'eager+compile'):
        with pytest.raises(BackendError, match="'eager' or a"):
            parse_variant(bad)


def _inputs(width: int = 64, height: int = 32, device: str = 'cpu'):
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, height, width, generator=generator).to(device)
    previous = torch.rand(1, 3, height, width, generator=generator).to(device)
    depth = (5 + 10 * torch.rand(1, 1, height, width, generator=generator)).to(device)
    k = torch.tensor([[[0.58 * width, 0, width / 2], [0, 1.92 * height, height / 2],
                       [0, 0, 1]]], device=device)
    return image, previous, depth, k


def _compare(a: TorchRunner, b: TorchRunner, inputs, atol: float) -> None:
    with torch.inference_mode():
        torch.testing.assert_close(b.depth(inputs[0]), a.depth(inputs[0]), atol=atol, rtol=0)
        for x, y in zip(b.motion(*inputs), a.motion(*inputs), strict=True):
            torch.testing.assert_close(x, y, atol=atol, rtol=0)


def test_channels_last_runner_matches_eager_on_cpu(tiny_weights: Path) -> None:
    model, _ = load_weights(tiny_weights)
    eager = TorchRunner(model.eval())
    _compare(eager, build_runner(model, 'channels_last', torch.device('cpu'), (64, 32), None),
             _inputs(), atol=1e-4)
    assert next(model.parameters()).is_contiguous()  # the variant changed a copy
    with pytest.raises(BackendError, match='needs a CUDA device'):
        build_runner(model, 'cuda_graph', torch.device('cpu'), (64, 32), None)


@pytest.mark.skipif(NO_CUDA, reason='CUDA graphs need a CUDA device')
@pytest.mark.parametrize('variant', ['cuda_graph', 'channels_last+cuda_graph'])
def test_cuda_graph_runner_matches_eager(tiny_weights: Path, variant: str) -> None:
    device = torch.device('cuda')
    model, _ = load_weights(tiny_weights, device='cuda')
    model.eval()
    graph = build_runner(model, variant, device, (64, 32), None)
    for seed in (1, 2):  # fresh inputs each replay: the graph computes the function
        torch.manual_seed(seed)
        _compare(TorchRunner(model), graph, _inputs(device='cuda'), atol=1e-3)


@pytest.mark.skipif(NO_CUDA, reason='fp16 / bf16 need a CUDA device')
@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_half_precision_pipeline_runs_and_is_finite(tiny_weights: Path, precision: str) -> None:
    estimator = Estimator(tiny_weights, device='cuda', precision=precision, output='network')
    rng = np.random.default_rng(0)
    k = np.array([[37.0, 0, 31.5], [0, 61.0, 15.5], [0, 0, 1]])
    outputs = [estimator.process(rng.integers(0, 256, (32, 64, 3), np.uint8), k, 0.1 * i)
               for i in range(2)]
    assert np.isfinite(outputs[1].depth).all() and np.isfinite(outputs[1].motion).all()


def test_agreement_and_tolerance(tiny_weights: Path) -> None:
    estimator = Estimator(tiny_weights, device='cpu', output='network')
    rng = np.random.default_rng(0)
    k = np.array([[37.0, 0, 31.5], [0, 61.0, 15.5], [0, 0, 1]])
    images = [rng.integers(0, 256, (32, 64, 3), np.uint8) for _ in range(2)]
    outputs = [estimator.process(image, k, 0.1 * i) for i, image in enumerate(images)]
    same = agreement(outputs, outputs)
    assert same['depth_rel_median'] == 0.0 and same['rotation_deg'] == 0.0
    assert check_tolerance(same, 'fp16') == []
    scaled = [_copy_with(out, depth=out.depth * 1.05) for out in outputs]  # 5 % everywhere
    far = agreement(outputs, scaled)
    assert far['depth_rel_median'] == pytest.approx(0.05, rel=1e-4)
    assert far['translation_rel'] == 0.0
    assert any(f.startswith('depth_rel_median') for f in check_tolerance(far, 'bf16'))
    nan_depth = _copy_with(outputs[1], depth=np.full_like(outputs[1].depth, np.nan))
    assert check_tolerance(agreement(outputs, [outputs[0], nan_depth]), 'fp32')
    nan_motion = _copy_with(outputs[1], motion=np.full((4, 4), np.nan))
    assert 'translation_rel inf > 0.002' in check_tolerance(
        agreement(outputs, [outputs[0], nan_motion]), 'fp32')
    with pytest.raises(ValueError, match='precision must be one of'):
        check_tolerance(same, 'fp64')


def _copy_with(output, **changes):
    return dataclasses.replace(output, **changes)


def test_the_default_is_the_fastest_within_tolerance_at_every_size() -> None:
    def row(variant, precision, size, fps, within=True, backend='torch'):
        return {'subject': 'pipeline', 'status': 'ok', 'backend': backend, 'variant': variant,
                'precision': precision, 'input': size, 'fps': fps, 'median_ms': 1e3 / fps,
                'within_tolerance': within}

    rows = [row('eager', 'fp32', '640x192', 100), row('eager', 'fp16', '640x192', 150),
            row('cuda_graph', 'fp16', '640x192', 400),
            row('cuda_graph', 'fp16', '1024x320', 200, within=False),  # fails elsewhere
            row('cuda_graph', 'bf16', '640x192', 380), row('compile', 'bf16', '640x192', 500),
            row('eager', 'bf16', '640x192', 900, within=False)]
    choice = _bench().choose(rows)
    assert (choice['default']['variant'], choice['default']['precision']) == (
        'cuda_graph', 'bf16')
    assert (choice['fastest']['variant'], choice['fastest']['precision']) == ('compile', 'bf16')


def test_gpu_requirements_are_pinned() -> None:
    root = BENCH.parents[1]
    pins = {}
    for name in ('requirements-gpu.txt', 'requirements-backends.txt'):
        for line in (root / name).read_text().splitlines():
            if line.strip() and not line.startswith('#'):
                package, _, version = line.partition('==')
                assert version, f'{name}: {line!r} is not pinned'
                assert pins.setdefault(package, version) == version, f'{package} pinned twice'
    assert 'onnxruntime-gpu' in pins
