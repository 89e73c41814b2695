#!/usr/bin/env python3
"""GPU benchmark: latency and throughput per precision and runner variant, checked against CPU.

For each input size x precision (fp32 / bf16 / fp16) x runner variant (rmdepth_ros.backends.
torch_variants: eager, channels-last, CUDA graphs, torch.compile), batch 1, with the shipped
weights unless --weights: the bare depth network, the bare motion network and the full pipeline
(`Estimator.process`: depth, camera motion, flow, mask, at the network's size), each as median
and p95 latency (synchronised per call) and back-to-back throughput; then the pipeline's time
outside the networks (host preprocessing, geometry, copies; networks timed with a synchronise
around each call), and the outputs on --frames against CPU fp32 (rmdepth_ros.evaluation.
agreement: stated tolerance per precision). ONNX Runtime's CUDA provider is measured where it
is installed, else recorded as untested with the reason. Writes bench/results/gpu-<device>.json
and prints a table (or, with --json, the JSON).

    python bench/bench_gpu.py                           # everything, on CUDA
    python bench/bench_gpu.py --quick --device cpu      # the script itself, on the CPU

Exits 3 with one line when CUDA is asked for (the default) and there is none.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
from pathlib import Path
import re
import sys
import time

import torch

from rmdepth_ros.backends.runners import BackendError
from rmdepth_ros.backends.torch_variants import build_runner, parse_variant
from rmdepth_ros.device import CUDA_DEFAULT_VARIANTS, CUDA_DEFAULTS_FILE, PRECISIONS
from rmdepth_ros.evaluation.agreement import TOLERANCES, agreement, check_tolerance
from rmdepth_ros.evaluation.environment import describe_environment
from rmdepth_ros.evaluation.timing import SyncTimedRunner, time_calls
from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.weights import load_weights

NO_CUDA = 3
SIZES = ('192x64', '640x192', '1024x320')
VARIANTS = ('eager', 'channels_last', 'cuda_graph', 'channels_last+cuda_graph', 'compile',
            'compile+cuda_graph')
RESULTS = Path(__file__).resolve().parent / 'results'
#: The size the targets (and the choice of defaults) are stated at.
TARGET_SIZE = '640x192'
# The pipeline measured: the networks at exactly the stated size (crop), camera motion from the
# motion network (the node's default 'hybrid' adds host-side tracking: bench/bench_hybrid.py).
PIPELINE = {'resize': 'crop', 'motion_source': 'network'}


def install_runner(est: Estimator, runner) -> None:
    """Make `runner` the one the Estimator uses at its input size."""
    est._runner = runner
    est._runners = {est.input_size: runner}


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r'(\d+)x(\d+)', text)
    if not match or int(match[1]) % 8 or int(match[2]) % 8 or min(map(int, match.groups())) < 16:
        raise argparse.ArgumentTypeError(f"size must be WxH, multiples of 8, at least 16, got "
                                         f"'{text}'")
    return int(match[1]), int(match[2])


class Stream:
    """Frames fed to an Estimator in a loop, with advancing stamps."""

    def __init__(self, estimator: Estimator, frames: list) -> None:
        self.estimator, self.frames, self.count = estimator, frames, 0
        estimator.reset()

    def step(self):
        frame = self.frames[self.count % len(self.frames)]
        self.count += 1
        return self.estimator.process(frame.image, frame.intrinsics, 0.1 * self.count)


def synthetic_frames(size: tuple[int, int], count: int) -> list:
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    return list(SyntheticSequence(SynthConfig(width=size[0], height=size[1], frames=count,
                                              seed=7)))


def accuracy_frames(args: argparse.Namespace, size: tuple[int, int]) -> list:
    if args.frames is None:
        return synthetic_frames(size, args.accuracy_frames)
    from rmdepth_ros.open_sequence import open_sequence

    sequence = open_sequence(args.frames)
    return [sequence[i] for i in range(min(args.accuracy_frames, len(sequence)))]


def run_outputs(estimator: Estimator, frames: list) -> list:
    estimator.reset()
    return [estimator.process(f.image, f.intrinsics, 0.1 * (i + 1)) for i, f in enumerate(frames)]


class Bench:
    """Every measurement of one run; rows are appended as they are made."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.args, self.device = args, device
        self.model, self.metadata = load_weights(args.weights, device='cpu')
        self.model.eval()
        self.rows: list[dict] = []
        self.started = time.perf_counter()
        self._references: dict[tuple[int, int], tuple[list, list]] = {}

    def reference(self, size: tuple[int, int]) -> tuple[list, list]:
        """(frames, CPU fp32 eager outputs) at `size`, computed once."""
        if size not in self._references:
            frames = accuracy_frames(self.args, size)
            cpu = Estimator(model=copy.deepcopy(self.model), metadata=self.metadata,
                            device='cpu', precision='fp32', input_size=size, output='network',
                            **PIPELINE)
            self._references[size] = (frames, run_outputs(cpu, frames))
        return self._references[size]

    def time(self, call) -> dict[str, float]:
        args = self.args
        return time_calls(call, self.device, args.warmup, args.min_iters, args.seconds,
                          args.max_iters)

    def skip_reason(self, size_text: str, precision: str, variant: str) -> str | None:
        parts = parse_variant(variant)
        if precision != 'fp32' and self.device.type != 'cuda':
            return f'{precision} needs CUDA'
        if 'cuda_graph' in parts and self.device.type != 'cuda':
            return 'CUDA graphs need CUDA'
        if 'compile' in parts and size_text not in self.args.compile_sizes:
            return f"compile measured only at {', '.join(self.args.compile_sizes)}"
        budget, spent = self.args.budget_s, time.perf_counter() - self.started
        if budget and spent > budget:
            return f'time budget of {budget:.0f} s spent'
        if budget and 'compile' in parts and spent > budget - self.args.compile_reserve_s:
            return (f'{budget - spent:.0f} s of the budget left, under the '
                    f'{self.args.compile_reserve_s:.0f} s kept for compiling')
        return None

    def case(self, size_text: str, precision: str, variant: str) -> None:
        base = {'backend': 'torch', 'variant': variant, 'precision': precision,
                'input': size_text}
        status, reason = 'skipped', self.skip_reason(size_text, precision, variant)
        if reason is None:
            try:
                self._measure_case(parse_size(size_text), base)
                return
            except (RuntimeError, BackendError, torch.cuda.OutOfMemoryError) as error:
                status = 'failed'
                reason = f'{type(error).__name__}: {_first_line(error)}'
        for subject in ('depth', 'motion', 'pipeline'):
            self.rows.append({**base, 'subject': subject, 'status': status, 'reason': reason})

    def _measure_case(self, size: tuple[int, int], base: dict) -> None:
        tick = time.perf_counter()
        precision, dtype = base['precision'], PRECISIONS[base['precision']]
        est = Estimator(model=copy.deepcopy(self.model), metadata=self.metadata,
                        device=str(self.device), precision=precision, input_size=size,
                        output='network', **PIPELINE)
        runner = build_runner(est.model, base['variant'], self.device, size,
                              None if precision == 'fp32' else dtype)
        install_runner(est, runner)  # the variant stands in for the Estimator's eager runner
        setup_s = time.perf_counter() - tick
        frames, reference = self.reference(size)
        width, height = size
        image = torch.rand(1, 3, height, width, device=self.device)
        other = torch.rand(1, 3, height, width, device=self.device)
        depth = torch.full((1, 1, height, width), 10.0, device=self.device)
        k = torch.as_tensor(frames[0].intrinsics, dtype=torch.float32, device=self.device)
        with torch.inference_mode(), est._autocast():
            runner.depth(image)  # compiles (torch.compile) outside the timings
            runner.motion(image, image, depth, k[None])
            depth_row = self.time(lambda: runner.depth(image))
            motion_row = self.time(lambda: runner.motion(image, other, depth, k[None]))
        outputs = run_outputs(est, frames)
        stream = Stream(est, frames)
        pipeline_row = self.time(stream.step)
        pipeline_row.update(self._breakdown(est, runner, frames))
        frame_height, frame_width = frames[0].image.shape[:2]
        pipeline_row['frame_size'] = f'{frame_width}x{frame_height}'  # resized on the host
        metrics = agreement(reference, outputs)
        failures = check_tolerance(metrics, precision)
        pipeline_row.update(agreement=metrics, within_tolerance=not failures,
                            tolerance_failures=failures)
        for subject, row in (('depth', depth_row), ('motion', motion_row),
                             ('pipeline', pipeline_row)):
            self.rows.append({**base, 'subject': subject, 'status': 'ok', **row,
                              'setup_s': round(setup_s, 2)})

    def _breakdown(self, est: Estimator, runner, frames: list) -> dict:
        """Mean per-frame stage times and the networks' share, networks synchronised."""
        timed = SyncTimedRunner(runner, self.device)
        install_runner(est, timed)
        stream = Stream(est, frames)
        stream.step()  # a previous frame, so that every measured frame runs both networks
        timed.ms = 0.0
        count = self.args.breakdown_frames
        totals: dict[str, float] = {}
        for _ in range(count):
            for key, value in stream.step().timings.items():
                totals[key] = totals.get(key, 0.0) + value / count
        install_runner(est, runner)
        networks = timed.ms / count
        stages = {key: round(value, 4) for key, value in totals.items()}
        outside = totals['total'] - networks
        return {'stages_ms': stages, 'networks_ms': round(networks, 4),
                'outside_networks_ms': round(outside, 4),
                'outside_networks_share': round(outside / totals['total'], 4)}

    def onnxruntime_cuda(self) -> list[dict]:
        """ONNX Runtime's GPU providers: measured where available, else why not."""
        if importlib.util.find_spec('onnxruntime') is None:
            why = 'onnxruntime is not installed'
            providers: list[str] = []
        else:
            import onnxruntime

            providers = onnxruntime.get_available_providers()
            why = (f'onnxruntime {onnxruntime.__version__} has providers '
                   f"{', '.join(providers)}: the CPU build (onnxruntime-gpu is not installed; "
                   'the device image has the CPU build and its wheel, with the CUDA libraries '
                   'it needs, is far larger than the 64 MiB a device call can carry)')
        rows = []
        for provider in ('CUDAExecutionProvider', 'TensorrtExecutionProvider'):
            row = {'backend': f'onnxruntime:{provider}', 'variant': '-', 'precision': 'fp32',
                   'input': TARGET_SIZE, 'subject': 'pipeline'}
            row['status'] = 'untested'
            if self.device.type != 'cuda':
                row['reason'] = 'needs CUDA'
            elif provider not in providers:
                row['reason'] = why
            elif provider == 'TensorrtExecutionProvider':
                row['reason'] = ('rmdepth_ros.backends runs ONNX Runtime with the CUDA provider '
                                 'only')
            else:
                row.update(self._onnxruntime_pipeline())
            rows.append(row)
        return rows

    def _onnxruntime_pipeline(self) -> dict:
        size = parse_size(TARGET_SIZE)
        try:
            est = Estimator(model=copy.deepcopy(self.model), metadata=self.metadata,
                            device=str(self.device), input_size=size, output='network',
                            backend='onnxruntime', **PIPELINE,
                            log=lambda line: print(f'# {line}', file=sys.stderr))
        except (BackendError, RuntimeError, OSError) as error:
            return {'status': 'failed', 'reason': _first_line(error)}
        frames, reference = self.reference(size)
        metrics = agreement(reference, run_outputs(est, frames))
        return {'status': 'ok', **self.time(Stream(est, frames).step),
                'agreement': metrics, 'within_tolerance': not check_tolerance(metrics, 'fp32')}


def choose(rows: list[dict]) -> dict:
    """The fastest pipeline at TARGET_SIZE whose outputs were within tolerance at every size
    measured: of any backend and variant ('fastest'), and of the PyTorch variants the Estimator
    may run by default ('default', what --update-defaults writes: no torch.compile)."""
    pipelines = [r for r in rows if r['subject'] == 'pipeline' and r['status'] == 'ok']
    failed = {(r['backend'], r['variant'], r['precision']) for r in pipelines
              if not r.get('within_tolerance')}
    ok = [r for r in pipelines if r['input'] == TARGET_SIZE
          and (r['backend'], r['variant'], r['precision']) not in failed]
    fastest = max(ok, key=lambda r: r['fps'], default=None)
    usable = [r for r in ok if r['backend'] == 'torch' and r['variant'] in CUDA_DEFAULT_VARIANTS]
    default = max(usable, key=lambda r: r['fps'], default=None)
    return {'fastest': _pick(fastest), 'default': _pick(default)}


def _pick(row: dict | None) -> dict | None:
    keys = ('backend', 'variant', 'precision', 'fps', 'median_ms')
    return None if row is None else {key: row[key] for key in keys}


def update_defaults(result: dict, out: Path) -> dict | None:
    """Rewrite cuda_defaults.json with the measured default; None (file untouched) without
    one or off CUDA."""
    best = result['choice']['default']
    if best is None or result['environment']['device']['device_type'] != 'cuda':
        return None
    device = result['environment']['device']
    CUDA_DEFAULTS_FILE.write_text(json.dumps({
        'precision': best['precision'], 'variant': best['variant'], 'measured': True,
        'note': (f"Measured on {device['name']} (driver {device.get('driver')}), torch "
                 f"{result['environment']['versions']['torch']}: the fastest pipeline at "
                 f'{TARGET_SIZE} within tolerance of CPU fp32 at every size measured, '
                 f'{best["fps"]:.1f} FPS; bench/bench_gpu.py, {out.name}.')}, indent=2) + '\n')
    return best


def print_table(result: dict) -> None:
    """One line per backend x variant x precision x input (README "GPU" has this layout)."""
    env = result['environment']
    print(f"# {env['device']['name']}, driver {env['device'].get('driver')}, torch "
          f"{env['versions']['torch']}, CUDA {env['versions']['cuda']}, cuDNN "
          f"{env['versions']['cudnn']}; {result['seconds']} s")
    print('| input | precision | backend / variant | depth FPS | motion FPS | pipeline FPS '
          '| pipeline median / p95 ms | outside networks | within tolerance |')
    print('|---|---|---|---:|---:|---:|---:|---:|---|')
    cases: dict[tuple, dict[str, dict]] = {}
    for row in result['rows']:
        key = (row['input'], row['precision'], f"{row['backend']} / {row['variant']}")
        cases.setdefault(key, {})[row['subject']] = row
    for (size, precision, name), subjects in cases.items():
        pipeline = subjects.get('pipeline', {})
        if pipeline.get('status') != 'ok':
            print(f"| {size} | {precision} | {name} | {pipeline.get('status')}: "
                  f"{pipeline.get('reason')} | | | | | |")
            continue
        fps = [f"{subjects[s]['fps']:.1f}" if s in subjects else '' for s in ('depth', 'motion')]
        share = pipeline.get('outside_networks_share')
        within = pipeline.get('within_tolerance')
        failures = '; '.join(pipeline.get('tolerance_failures') or [])
        print(f"| {size} | {precision} | {name} | {fps[0]} | {fps[1]} | {pipeline['fps']:.1f} "
              f"| {pipeline['median_ms']:.2f} / {pipeline['p95_ms']:.2f} "
              f"| {'' if share is None else f'{share:.0%}'} "
              f"| {'yes' if within else f'NO ({failures})'} |")
    print(f"choice: {result['choice']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda', help="'cuda', 'cuda:N' or 'cpu'")
    parser.add_argument('--sizes', nargs='+', default=None, help=f'WxH (default {SIZES})')
    parser.add_argument('--precisions', nargs='+', choices=list(PRECISIONS), default=None)
    parser.add_argument('--variants', nargs='+', default=None, help=f'default {VARIANTS}')
    parser.add_argument('--compile-sizes', nargs='+', default=[TARGET_SIZE],
                        help='sizes at which compile variants run (compiling takes minutes)')
    parser.add_argument('--weights', default=None, help='weights file (default: shipped)')
    parser.add_argument('--frames', default=None, help='sequence for the accuracy check '
                        '(rmdepth_ros.open_sequence); default: synthetic frames')
    parser.add_argument('--accuracy-frames', type=int, default=6)
    parser.add_argument('--seconds', type=float, default=0.5, help='per latency measurement')
    parser.add_argument('--min-iters', type=int, default=20)
    parser.add_argument('--max-iters', type=int, default=2000)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--breakdown-frames', type=int, default=20,
                        help='frames timed with the networks synchronised (stage shares)')
    parser.add_argument('--budget-s', type=float, default=None,
                        help='start no new case after this many seconds (recorded as skipped)')
    parser.add_argument('--compile-reserve-s', type=float, default=90.0,
                        help='with --budget-s, start a compile case only with this much left')
    parser.add_argument('--no-cudnn-benchmark', action='store_true',
                        help="leave cuDNN's algorithm search off (default: on, fixed sizes)")
    parser.add_argument('--quick', action='store_true', help='one small size, few iterations')
    parser.add_argument('--update-defaults', action='store_true', help='write the measured '
                        "precision and variant to rmdepth_ros/cuda_defaults.json ('auto')")
    parser.add_argument('--json', action='store_true', help='print the JSON, not the table')
    parser.add_argument('--out', default=None, help='JSON path, or a folder for '
                        'gpu-<device>.json (default: bench/results/); rewritten after every case')
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or ['192x64']
        args.seconds, args.min_iters, args.warmup, args.breakdown_frames = 0.02, 2, 1, 2
        args.accuracy_frames = min(args.accuracy_frames, 3)
    args.sizes = args.sizes or list(SIZES)
    for size in args.sizes + args.compile_sizes:
        try:
            parse_size(size)
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    args.precisions = args.precisions or ['fp32', 'bf16', 'fp16']
    if args.variants is None:
        args.variants = (list(VARIANTS) if args.device.startswith('cuda')
                         else ['eager', 'channels_last'])
    for variant in args.variants:
        try:
            parse_variant(variant)
        except BackendError as error:
            parser.error(str(error))
    if args.accuracy_frames < 2:
        parser.error('--accuracy-frames must be at least 2 (motion needs a previous frame)')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device != 'cpu' and not torch.cuda.is_available():
        print(f'bench_gpu: no CUDA device (torch {torch.__version__} sees none); '
              f'--device cpu tests the script on the CPU')
        return NO_CUDA
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = device.type == 'cuda' and not args.no_cudnn_benchmark
    bench = Bench(args, device)
    env = describe_environment(device)
    name = re.sub(r'[^a-z0-9]+', '-', env['device']['name'].lower()).strip('-')
    out = Path(args.out) if args.out else RESULTS
    out = out / f'gpu-{name}.json' if out.is_dir() or not out.suffix else out
    out.parent.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:  # cheap variants first: a budget cut drops compile first
        for size in args.sizes:
            for precision in args.precisions:
                bench.case(size, precision, variant)
                save(bench, env, out, partial=True)  # a killed run still leaves its rows
    bench.rows.extend(bench.onnxruntime_cuda())
    result = save(bench, env, out, partial=False)
    if args.update_defaults:
        chosen = update_defaults(result, out)
        print(f"cuda_defaults.json: precision {chosen['precision']}, variant "
              f"{chosen['variant']}" if chosen else
              'cuda_defaults.json left alone: no CUDA pipeline measured within tolerance')
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
        print(f'wrote {out}')
    return 0


def save(bench: Bench, env: dict, out: Path, partial: bool) -> dict:
    """Write the results so far to `out` (strict JSON) and return them."""
    args = bench.args
    result = {'schema': 1, 'partial': partial, 'environment': env, 'rows': bench.rows,
              'tolerances': TOLERANCES, 'model_id': bench.metadata.get('model_id', 'in-memory'),
              'frames': args.frames or 'synthetic', 'accuracy_frames': args.accuracy_frames,
              'quick': args.quick, 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
              'seconds': round(time.perf_counter() - bench.started, 1),
              'choice': choose(bench.rows)}
    result = _finite(result)
    out.write_text(json.dumps(result, indent=1) + '\n')
    return result


def _finite(value):
    """`value` with every NaN / infinite float as None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


if __name__ == '__main__':
    sys.exit(main())
