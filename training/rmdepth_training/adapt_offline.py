"""Adapt weights to your own camera from your own video, in minutes.

    rmdepth-train adapt SOURCE [SOURCE ...] --minutes M --out FILE [--weights START]

SOURCE is anything `rmdepth_ros.open_sequence` reads (a ROS 2 bag, a folder of images with
intrinsics, a KITTI / TUM folder, ...). First the starting weights run over every source with
depth_source 'fused', in order: what the camera's motion measured becomes each frame's
pseudo-label (`pseudo_labels`; `--pseudo-depth 0` skips this pass). Then the depth network
learns from the user's frames with the self-supervised photometric loss and the
confidence-weighted depth loss on those labels, while the motion network stays frozen
(`adapt_model`); a share of each batch replays supervised synthetic triplets against
forgetting. The labelling pass is not part of the `--minutes` budget. The last
`--held-out` fraction of every source is never trained on: the two terms that learn from the
camera (photometric error, pseudo-label loss) on it are the validation score (depth AbsRel is
printed too where the source has depth), and FILE is written only when the score improves on
the starting weights, each time it improves again. Bad sources (missing, no
intrinsics, fewer than 3 frames, a standing camera, unreadable) are one line and exit status 2;
no improvement within the budget leaves FILE unwritten and exits with status 1. Ctrl-C ends
training after the step in flight (exit status 130; FILE keeps the best weights so far).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from pathlib import Path
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

from rmdepth_ros.evaluation.metrics import depth_metrics
from rmdepth_ros.inference import Estimator, select_device
from rmdepth_ros.model.rmdepth import RMDepth
from rmdepth_ros.model.weights import WeightsError, load_weights, save_weights
from rmdepth_training.adapt_frames import (
    STATIC_THRESHOLD,
    ClipTriplets,
    SourceError,
    check_moving,
    label_clip,
    load_clip,
    moving_targets,
    parse_range,
    split_held_out,
)
from rmdepth_training.adapt_model import MOTION_MODES, PARTS, Adapter, adaptation_config
from rmdepth_training.config import AugmentConfig
from rmdepth_training.datasets import (
    MixedTriplets,
    StepBatchSampler,
    SyntheticTriplets,
    TrainStream,
)
from rmdepth_training.interrupt import StopRequest

# Defaults measured on KITTI odometry 00 (docs/adaptation.md). lr: with pseudo-labels; the
# photometric loss alone (--pseudo-depth 0) oscillated at 1e-4 and takes PHOTOMETRIC_LR.
DEFAULTS = {'lr': 1e-4, 'part': 'depth', 'motion': 'helper', 'replay': 0.25, 'batch': 4,
            'held_out': 0.1, 'pseudo_depth': 1.0}
PHOTOMETRIC_LR = 3e-5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='rmdepth-train adapt',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('sources', nargs='+', metavar='SOURCE')
    parser.add_argument('--out', required=True, metavar='FILE', help='adapted weights file')
    parser.add_argument('--minutes', type=float, default=8.0, help='time budget (default 8)')
    parser.add_argument('--weights', default=None, metavar='START',
                        help='starting weights (default: the shipped weights)')
    parser.add_argument('--frames', default=None, metavar='START:STOP',
                        help='use only these frames of every source')
    parser.add_argument('--lr', type=float, default=None,
                        help=f"Adam learning rate (default {DEFAULTS['lr']:g}, or "
                        f'{PHOTOMETRIC_LR:g} with --pseudo-depth 0)')
    parser.add_argument('--part', choices=PARTS, default=DEFAULTS['part'],
                        help='what adapts (the motion network never does)')
    parser.add_argument('--motion', choices=MOTION_MODES, default=DEFAULTS['motion'],
                        help='frozen: depth learns with the camera motion as it is; helper: '
                        'a private copy of the motion network trains along (never saved)')
    parser.add_argument('--replay', type=float, default=DEFAULTS['replay'],
                        help='share of each batch replaying supervised synthetic triplets')
    parser.add_argument('--pseudo-depth', type=float, default=DEFAULTS['pseudo_depth'],
                        help="weight of the depth loss on the starting weights' fused depth "
                        '(labels made first, from the same video); 0: photometric loss only')
    parser.add_argument('--batch', type=int, default=DEFAULTS['batch'])
    parser.add_argument('--held-out', type=float, default=DEFAULTS['held_out'],
                        help='last fraction of every source kept for validation')
    parser.add_argument('--static-threshold', type=float, default=STATIC_THRESHOLD)
    parser.add_argument('--resize', default='crop', choices=('crop', 'pad', 'stretch'))
    parser.add_argument('--device', default='auto', help='auto (a GPU when present), cpu, cuda')
    parser.add_argument('--val-every', type=int, default=10, help='validate every N steps')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-progress', action='store_true')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_args(args)
        return adapt(args)
    except (SourceError, WeightsError, ValueError) as error:
        print(f'rmdepth-train adapt: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before training (reading, labelling): nothing was written
        print(f'rmdepth-train adapt: interrupted before training; {args.out} not written',
              file=sys.stderr)
        return 130


def _check_args(args: argparse.Namespace) -> None:
    if not args.minutes > 0:
        raise ValueError(f'--minutes must be positive, got {args.minutes}')
    if not 0 <= args.replay < 1:
        raise ValueError(f'--replay must be in [0, 1), got {args.replay}')
    if not 0 < args.held_out < 1:
        raise ValueError(f'--held-out must be in (0, 1), got {args.held_out}')
    if not args.pseudo_depth >= 0:
        raise ValueError(f'--pseudo-depth must be >= 0, got {args.pseudo_depth}')
    if args.lr is None:
        args.lr = DEFAULTS['lr'] if args.pseudo_depth > 0 else PHOTOMETRIC_LR
    if args.batch < 1 or args.lr <= 0:
        raise ValueError('--batch must be at least 1 and --lr positive')


def adapt(args: argparse.Namespace) -> int:
    """The command; returns the exit status (0: FILE written, 1: no improvement)."""
    device = select_device(args.device)
    start, metadata = load_weights(args.weights, device='cpu')
    net_size = tuple(metadata['input_size'])
    frames = parse_range(args.frames) if args.frames else (0, None)
    clips, train, held = [], [], []
    for source in args.sources:
        clip = load_clip(source, net_size, args.resize, frames)
        moving, static = moving_targets(clip, threshold=args.static_threshold)
        check_moving(source, moving, static)
        fit, kept = split_held_out(moving, args.held_out)
        if not fit:
            raise SourceError(f'{source}: {len(moving)} moving triplet(s), too few to train on '
                              'and hold some back for validation')
        if args.pseudo_depth > 0:
            _label(clip, args, start, metadata, device)
        clips.append(clip)
        train.append(fit)
        held.append(kept)
        print(f'{source}: {len(clip.images)} frames, {len(moving)} moving triplets '
              f'({static} static skipped): {len(fit)} to adapt on, {len(kept)} held back')

    cfg = adaptation_config(lr=args.lr, supervised=1.0 if args.replay > 0 else 0.0,
                            pseudo_depth=args.pseudo_depth)
    cfg = dataclasses.replace(cfg, seed=args.seed, data=dataclasses.replace(
        cfg.data, width=net_size[0], height=net_size[1], synth_frames=3))
    source = ClipTriplets(clips, train)
    if args.replay > 0:
        source = MixedTriplets(SyntheticTriplets(cfg.data), source, 1.0 - args.replay)
    stream = TrainStream(source, cfg.data, cfg.augment, args.seed)
    batches = iter(DataLoader(stream, batch_sampler=StepBatchSampler(0, args.batch, 0, 1),
                              num_workers=0))
    plain = AugmentConfig(flip_prob=0.0, jitter_prob=0.0)
    held_stream = TrainStream(ClipTriplets(clips, held), cfg.data, plain, args.seed)
    held_batch = default_collate([held_stream[i] for i in range(held_stream.source.length)])

    adapter = Adapter(start, cfg, args.part, device, args.motion)
    before = _validate(adapter, held_batch, clips, held, metadata, args.resize)
    print('before: ' + _line(before), flush=True)
    best, written, start_state = before['validation'], None, adapter.state()
    budget_s = args.minutes * 60.0
    began = time.perf_counter()
    progress = _progress(budget_s, args.no_progress)
    losses: list[float] = []
    # Ctrl-C: the step in flight finishes and the run ends as if its budget were spent (FILE,
    # written atomically at every improvement, keeps the best weights so far); exit 130.
    with StopRequest('rmdepth-train adapt: Ctrl-C: finishing this step (Ctrl-C again stops '
                     'at once)') as stop:
        while time.perf_counter() - began < budget_s and not stop.requested:
            try:
                losses.append(adapter.step(next(batches)))
            except FloatingPointError as error:
                print(f'step {adapter.steps}: {error}; back to the best weights', flush=True)
                adapter.restore(written or start_state)
                continue
            if adapter.steps % args.val_every == 0:
                score = adapter.score(held_batch)
                if score < best:
                    best, written = score, adapter.state()
                    _save(adapter, start, args, metadata, clips, best, before)
                if progress is not None:
                    progress.set_postfix(loss=f'{np.mean(losses[-10:]):.4f}',
                                         val=f'{score:.4f}', best=f'{best:.4f}', refresh=False)
            if progress is not None:
                progress.n = min(budget_s, time.perf_counter() - began)
                progress.refresh()
    if progress is not None:
        progress.close()
    status = 130 if stop.requested else 0
    if stop.requested:
        print(f'interrupted after {adapter.steps} steps')
    if written is None:
        print(f'after {adapter.steps} steps: validation never improved on the starting '
              f'weights ({before["validation"]:.4f}); {args.out} not written')
        return status or 1
    adapter.restore(written)
    after = _validate(adapter, held_batch, clips, held, metadata, args.resize)
    print('after:  ' + _line(after))
    print(f'{args.out}: written ({adapter.steps} steps x batch {args.batch} in '
          f'{(time.perf_counter() - began) / 60:.1f} min on {device})')
    return status


def _label(clip, args: argparse.Namespace, start: RMDepth, metadata: dict,
           device: torch.device) -> None:
    """The clip's pseudo-labels: the starting weights' fused depth over its frames."""
    labeller = Estimator(model=copy.deepcopy(start), metadata=metadata, device=str(device),
                         depth_source='fused')
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(clip.images), desc=f'label {Path(clip.name).name}',
                   unit='frame', dynamic_ncols=True)
    began = time.perf_counter()
    try:
        label_clip(clip, labeller, None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    kept = sum(label is not None for label in clip.labels)
    print(f'{clip.name}: pseudo-labels for {kept} of {len(clip.images)} frames in '
          f'{time.perf_counter() - began:.0f} s', flush=True)


def _validate(adapter: Adapter, held_batch: dict, clips: list, held: list, metadata: dict,
              resize: str) -> dict[str, float]:
    """Photometric error on the held-back triplets, and depth AbsRel on the held-back frames
    that have depth (median-scaled, cap 80 m)."""
    result = {'validation': adapter.score(held_batch)}
    estimator = Estimator(model=adapter.model, metadata=metadata, device=str(adapter.device),
                          resize=resize, depth_source='network')
    values = []
    for clip, targets in zip(clips, held, strict=True):
        for t in targets:
            if clip.depth[t] is None:
                continue
            full = clip.window.depth_to_input(estimator_depth(estimator, clip, t))
            row = depth_metrics(clip.depth[t], full, max_depth=80.0)
            if row is not None:
                values.append(row['abs_rel'])
    if values:
        result['abs_rel'] = float(np.mean(values))
    adapter.train_mode()
    return result


def estimator_depth(estimator: Estimator, clip, index: int) -> np.ndarray:
    """Network-size depth of a clip frame (its network image is what the window made)."""
    estimator.reset('validation')
    out = estimator.process(clip.images[index], clip.K, 0.0, compute_motion=False)
    return out.depth


def _save(adapter: Adapter, start: RMDepth, args: argparse.Namespace, metadata: dict,
          clips: list, best: float, before: dict) -> None:
    names = ', '.join(Path(clip.name).name for clip in clips)
    origin = Path(metadata.get('path', 'the shipped weights')).name
    trained_on = (f'adapted to {names} ({sum(len(c.images) for c in clips)} frames, '
                  f'{adapter.steps} steps x batch {args.batch}, depth network adapted, motion '
                  f'network kept as it was (motion {args.motion}), {args.replay:.0%} '
                  f'supervised synthetic replay, pseudo-label depth loss {args.pseudo_depth:g} '
                  f"on the starting weights' fused depth); started "
                  f'from {origin} ({metadata.get("model_id", "?")}) '
                  f'[{metadata.get("trained_on", "")}]')
    notes = {'adaptation': {'sources': [c.name for c in clips], 'steps': adapter.steps,
                            'lr': args.lr, 'part': args.part, 'motion': args.motion,
                            'replay': args.replay, 'pseudo_depth': args.pseudo_depth,
                            'batch': args.batch, 'frames': args.frames,
                            'validation_score': {'before': before['validation'],
                                                       'after': best}},
             'start_model_id': metadata.get('model_id')}
    out = Path(args.out)
    tmp = out.with_name(out.name + '.tmp')
    save_weights(tmp, adapter.adapted(start), metadata['config'], tuple(metadata['input_size']),
                 trained_on=trained_on,
                 license=f'{metadata.get("license", "?")}; adapted on video whose terms are '
                         "set by the video's owner",
                 scale=metadata.get('scale'), notes=json.dumps(notes), dtype=torch.float32)
    tmp.replace(out)


def _line(values: dict[str, float]) -> str:
    text = f'held-back validation score {values["validation"]:.4f}'
    if 'abs_rel' in values:
        text += f', depth AbsRel {values["abs_rel"]:.4f}'
    return text


def _progress(budget_s: float, off: bool):
    if off:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=round(budget_s), unit='s', dynamic_ncols=True, mininterval=2.0,
                bar_format='{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}')
