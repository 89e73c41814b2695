#!/usr/bin/env python3
"""Training benchmark: seconds per optimiser step of training variants, interleaved.

Every variant runs `rmdepth_training.step.train_step` (TrainingModel -> compute_losses ->
supervised_losses when loss.supervised > 0 -> backward -> Adam step) exactly as
`rmdepth-train train` does, on batches from the real pipeline (`build_train_loader`). Batches
are made before timing, so the step times hold no data loading; `workers=N` variants instead
pull from a live loader with N workers, and the loader table times data loading alone (the
synthetic world, and KITTI odometry 07 frames when ../shared/data is there).

Variants run round-robin (warm-up steps first, then one timed step per variant and round) and
report the median; ratios to the baseline within one run are what count on a shared machine.
Variant specs: baseline, iters=A,B,C (train-time RMU iterations), res=WxH, channels_last,
compile (torch.compile, default mode), threads=N, workers=N, batch=N.

    OMP_WAIT_POLICY=PASSIVE nice -n 5 python bench/bench_training.py      # 8 min on a quiet box
    python bench/bench_training.py --variants baseline compile --repeats 3 --json
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
import json
import os
from pathlib import Path
import statistics
import sys
import time
from typing import Any

from rmdepth_training.config import TrainConfig, build_config
from rmdepth_training.datasets import build_train_loader
from rmdepth_training.step import build_optimizer, train_step
from rmdepth_training.training_model import TrainingModel
import torch

from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import load_weights

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'training' / 'configs' / 'cpu_stage4_supervised_mixed.yaml'
KITTI = ROOT.parent / 'shared' / 'data' / 'kitti_odometry_07'
# Not by default: 'compile' (its first step compiled for 11 minutes on this 2-core machine) and
# 'workers=N' (the live loader's prefetching would run during the other variants' steps).
DEFAULT_VARIANTS = ('baseline', 'iters=5,2,2', 'iters=3,1,1', 'res=128x48', 'res=256x80',
                    'res=320x96', 'channels_last', 'threads=1')
CPU = torch.device('cpu')


@dataclass
class Variant:
    """One way of running the training step; `name` is its spec string."""

    name: str
    overrides: list[str] = field(default_factory=list)
    threads: int | None = None  # None: the config's threads
    workers: int | None = None  # None: batches made before timing
    channels_last: bool = False
    compile: bool = False


def parse_variant(spec: str) -> Variant:
    """'iters=3,1,1' -> Variant; an unknown spec is a ValueError naming it."""
    key, _, value = spec.partition('=')
    try:  # int() and the unpacking raise ValueError on a malformed value
        if spec in ('baseline', 'channels_last', 'compile'):
            return Variant(spec, channels_last=spec == 'channels_last', compile=spec == 'compile')
        if key == 'iters':
            return Variant(spec, [f'model.iterations=[{value}]'])
        if key == 'res':
            width, height = (int(v) for v in value.split('x'))
            return Variant(spec, [f'data.width={width}', f'data.height={height}'])
        if key == 'batch':
            return Variant(spec, [f'optim.batch_size={int(value)}'])
        if key in ('threads', 'workers'):
            return Variant(spec, **{key: int(value)})
    except ValueError:
        pass
    raise ValueError(f'unknown variant {spec!r} (baseline, iters=A,B,C, res=WxH, batch=N, '
                     'channels_last, compile, threads=N, workers=N)')


def bench_config(config: str | Path | None, overrides: list[str]) -> tuple[TrainConfig, list]:
    """The config with its relative paths taken from the repository root; real video that is
    not on this machine is dropped (said in the returned notes)."""
    cfg = build_config(config, overrides)
    notes = []
    weights = cfg.init_weights and ROOT / cfg.init_weights
    real = [str(ROOT / p) for p in cfg.data.real_sequences if (ROOT / p).exists()]
    if len(real) < len(cfg.data.real_sequences):
        notes.append('real video not found: synthetic batches only')
    data = replace(cfg.data, real_sequences=tuple(real),
                   real_fraction=cfg.data.real_fraction if real else 0.0)
    return replace(cfg, data=data, init_weights=str(weights) if weights else ''), notes


class Runner:
    """A variant's model, optimiser and batch supply; `step()` returns (wall s, CPU s)."""

    def __init__(self, variant: Variant, cfg: TrainConfig, batches: int, made: dict) -> None:
        self.variant, self.cfg = variant, cfg
        self.threads = variant.threads or cfg.threads or torch.get_num_threads()
        torch.manual_seed(cfg.seed)
        self.model = RMDepth(cfg.model)
        if cfg.init_weights and Path(cfg.init_weights).is_file():
            # RMU iterations share weights, so every variant loads the same tensors.
            self.model.load_state_dict(load_weights(cfg.init_weights)[0].state_dict())
        self.model.train()
        if variant.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.net: torch.nn.Module = TrainingModel(self.model)
        if variant.compile:
            self.net = torch.compile(self.net)
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(cfg.optim.lr_milestones), gamma=cfg.optim.lr_gamma)
        if variant.workers is None:  # batches made now, in this process (shared by size)
            key = (cfg.data.width, cfg.data.height, cfg.optim.batch_size)
            if key not in made:
                serial = replace(cfg, data=replace(cfg.data, num_workers=0))
                stream = iter(build_train_loader(serial, 0)[0])
                made[key] = [next(stream) for _ in range(batches)]
            self.ready: list | None = made[key]
        else:  # a live loader: N workers keep 2N batches in flight
            self.stream = iter(build_train_loader(cfg, 0)[0])
            self.ready = None
        self.steps = 0
        self.first_s: float | None = None

    def step(self) -> tuple[float, float]:
        torch.set_num_threads(self.threads)
        wall, cpu = time.perf_counter(), time.process_time()
        batch = (next(self.stream) if self.ready is None
                 else self.ready[self.steps % len(self.ready)])
        train_step(self.net, self.model, self.optimizer, None, batch, self.steps, self.cfg, CPU)
        self.scheduler.step()
        self.steps += 1
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if self.first_s is None:
            self.first_s = wall
        return wall, cpu


def time_loader(cfg: TrainConfig, workers: int, batches: int) -> dict[str, float]:
    """Seconds to the first batch (worker start-up included) and per batch after it."""
    cfg = replace(cfg, data=replace(cfg.data, num_workers=workers))
    start = time.perf_counter()
    stream = iter(build_train_loader(cfg, 0)[0])
    next(stream)
    first = time.perf_counter()
    for _ in range(batches):
        next(stream)
    end = time.perf_counter()
    return {'first_s': first - start, 's_per_batch': (end - first) / batches}


def interleave(runners: dict[str, Runner], failed: dict[str, str], warmup: int, repeats: int,
               warmup_until: float, until: float) -> tuple[dict, int, int]:
    """Round-robin steps: warm-up rounds, then timed rounds of one step per variant.

    Stops starting warm-up rounds past `warmup_until` and timed rounds when the next one would
    end past `until` (perf_counter times); at least one of each. A variant whose step raises
    (torch.compile where it cannot work) moves to `failed`. Returns ({spec: [(wall s, CPU s)]},
    warm-up rounds, timed rounds).
    """
    warmed = 0
    while warmed < warmup and (warmed == 0 or time.perf_counter() < warmup_until):
        for spec, runner in list(runners.items()):
            try:
                runner.step()
            except Exception as error:  # reported in the table (torch.compile may fail)
                failed[spec] = f'{type(error).__name__}: {str(error).splitlines()[0][:160]}'
                del runners[spec]
        warmed += 1
    times: dict[str, list[tuple[float, float]]] = {spec: [] for spec in runners}
    rounds = 0
    while rounds < repeats and runners:
        start = time.perf_counter()
        for spec, runner in runners.items():
            for _ in range(2 * (runner.variant.workers or 0)):
                runner.step()  # a live loader: use up what it prefetched meanwhile
            times[spec].append(runner.step())
        rounds += 1
        if 2 * time.perf_counter() - start > until:
            break
    return times, warmed, rounds


def run_benchmark(config: str | Path | None = CONFIG, overrides: list[str] | None = None,
                  variants: list[str] | tuple[str, ...] = DEFAULT_VARIANTS, warmup: int = 3,
                  repeats: int = 5, budget_s: float = 450.0, loader_workers=(0, 1, 2),
                  loader_batches: int = 4, kitti: Path | None = KITTI,
                  prepared: int = 2) -> dict[str, Any]:
    """Time every variant (interleaved) and the loaders; returns the JSON-able result.

    prepared: batches made per variant before timing (its steps cycle through them).
    """
    began = time.perf_counter()
    result: dict[str, Any] = {'load_start': os.getloadavg(), 'torch': torch.__version__,
                              'cpus': os.cpu_count(), 'omp_wait_policy': os.environ.get(
                                  'OMP_WAIT_POLICY', '')}
    base, notes = bench_config(config, overrides or [])
    result['baseline'] = {'size': f'{base.data.width}x{base.data.height}',
                          'batch': base.optim.batch_size, 'threads': base.threads,
                          'iterations': list(base.model.iterations),
                          'supervised': base.loss.supervised,
                          'real_fraction': base.data.real_fraction}

    # -- data loading alone (synthetic world; KITTI frames) -----------------------------------
    sources = {'synthetic': replace(base.data, real_fraction=0.0)}
    if kitti is not None and kitti.is_dir():
        sources['kitti_07'] = replace(base.data, real_sequences=(str(kitti),), real_fraction=1.0)
    elif kitti is not None:
        notes.append(f'{kitti} not found: no KITTI loader timing')
    result['loader'] = [{'source': name, 'workers': w,
                         **time_loader(replace(base, data=data), w, loader_batches)}
                        for name, data in sources.items() for w in loader_workers]

    # -- training steps, round-robin -------------------------------------------------------------
    runners: dict[str, Runner] = {}
    failed: dict[str, str] = {}
    made: dict[tuple, list] = {}
    for spec in variants:
        variant = parse_variant(spec)
        cfg, _ = bench_config(config, (overrides or []) + variant.overrides)
        if variant.workers is not None:
            cfg = replace(cfg, data=replace(cfg.data, num_workers=variant.workers))
        runners[spec] = Runner(variant, cfg, prepared, made)
    times, warmed, rounds = interleave(runners, failed, warmup, repeats,
                                       began + budget_s / 2, began + budget_s)

    # -- summary -----------------------------------------------------------------------------
    rows = []
    for spec in variants:
        runner = runners.get(spec)
        row: dict[str, Any] = {'variant': spec}
        if runner is None:
            row['error'] = failed.get(spec, 'not run')
        else:
            wall = statistics.median(t[0] for t in times[spec])
            cpu = statistics.median(t[1] for t in times[spec])
            batch = runner.cfg.optim.batch_size
            row.update(s_per_step=wall, min_s=min(t[0] for t in times[spec]),
                       cpu_s_per_step=cpu, samples_per_s=batch / wall,
                       samples_per_cpu_s=batch / max(cpu, 1e-9), threads=runner.threads,
                       first_step_s=runner.first_s,
                       size=f'{runner.cfg.data.width}x{runner.cfg.data.height}')
            if runner.variant.compile:  # the first call compiles forward and backward
                row['compile_s'] = runner.first_s - wall
        rows.append(row)
    reference = next((r for r in rows if r['variant'] == 'baseline' and 's_per_step' in r), None)
    for row in (rows if reference else []):
        if 's_per_step' in row:
            row['ratio'] = row['s_per_step'] / reference['s_per_step']
            row['cpu_ratio'] = row['cpu_s_per_step'] / reference['cpu_s_per_step']
    result.update(variants=rows, rounds=rounds, warmup=warmed, notes=notes,
                  load_end=os.getloadavg(), wall_s=time.perf_counter() - began)
    return result


def print_table(result: dict[str, Any]) -> None:
    base = result['baseline']
    print(f"baseline {base['size']}, batch {base['batch']}, threads {base['threads']}, RMU "
          f"iterations {base['iterations']}, supervised {base['supervised']}, real fraction "
          f"{base['real_fraction']}; {result['warmup']} warm-up steps + {result['rounds']} "
          f"interleaved rounds; torch {result['torch']}, {result['cpus']} CPUs, "
          f"OMP_WAIT_POLICY={result['omp_wait_policy'] or 'unset'}")
    columns = (('s/step', 's_per_step', 2), ('min', 'min_s', 2), ('ratio', 'ratio', 2),
               ('samples/s', 'samples_per_s', 2), ('CPU s/step', 'cpu_s_per_step', 2),
               ('CPU ratio', 'cpu_ratio', 2), ('1st step s', 'first_step_s', 1))
    print(f"{'variant':<14}" + ''.join(f' {name:>10}' for name, _, _ in columns))
    for row in result['variants']:
        cells = (f' failed: {row["error"]}' if 'error' in row else
                 ''.join(f' {row.get(key, float("nan")):10.{digits}f}'
                         for _, key, digits in columns))
        print(f"{row['variant']:<14}{cells}")
    print(f"{'loader':<14} {'workers':>7} {'1st batch s':>11} {'s/batch':>8}")
    for row in result['loader']:
        print(f"{row['source']:<14} {row['workers']:7d} {row['first_s']:11.2f} "
              f"{row['s_per_batch']:8.3f}")
    start, end = result['load_start'], result['load_end']
    print(f"load average {start[0]:.1f} at start, {end[0]:.1f} at end; wall {result['wall_s']:.0f}"
          ' s. The machine is shared: absolute times are noisy, ratios within one run count.')
    for note in result['notes']:
        print(f'note: {note}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=str(CONFIG), help='training config (the baseline)')
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config overrides for every variant')
    parser.add_argument('--variants', nargs='+', default=list(DEFAULT_VARIANTS),
                        metavar='SPEC', help='e.g. baseline iters=3,1,1 res=256x80 workers=1')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=5, help='timed rounds at most')
    parser.add_argument('--budget-s', type=float, default=450.0,
                        help='start no new round past this many seconds')
    parser.add_argument('--loader-batches', type=int, default=4)
    parser.add_argument('--json', action='store_true', help='print one JSON line')
    args = parser.parse_args(argv)
    for spec in args.variants:
        try:
            parse_variant(spec)  # fail before any work
        except ValueError as error:
            parser.error(str(error))
    result = run_benchmark(args.config, args.set, args.variants, args.warmup, args.repeats,
                           args.budget_s, loader_batches=args.loader_batches)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
