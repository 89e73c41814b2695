"""Evaluate a weights file: held-out synthetic sequences and KITTI odometry 5-frame-snippet ATE.

    python -m rmdepth_training.evaluate_synthetic [WEIGHTS] [--render 640x192]
        [--kitti-odometry ../shared/data/kitti_odometry_06] [--json results.json]
        [--breakdown] [--seeds evaluation|validation]
    (also: rmdepth-train evaluate [WEIGHTS] ...)

Synthetic: `--sequences` sequences of `--frames` frames with seeds EVALUATION_SEED + i (below the
training seeds, never trained on), rendered at the weights' input size and, with `--render WxH`,
also at that size (the estimator resizes to its network size and back, so flow EPE is in pixels
of the rendered size). Metrics through `rmdepth_ros.inference.Estimator`, i.e. exactly what a
user gets: median-scaled depth (AbsRel, SqRel, RMSE, RMSlog, delta < 1.25^k) on gt < 80 m,
camera-motion errors (rotation angle; translation after least-squares scaling), flow EPE on
flow_valid pixels, moving-object IoU (intersection / union over all frames).
--breakdown adds where the depth error is (AbsRel by ground-truth depth bin and on moving /
static pixels, `evaluation.AbsRelBreakdown`). --seeds validation uses the validation seeds
(VALIDATION_SEED + i) instead: for choosing between weights without looking at the
evaluation sequences.
KITTI: the 5-frame-snippet ATE (Zhou et al. protocol, Monodepth2's compute_ate) on a KITTI
odometry folder; no depth ground truth there.
Baselines: beside every figure, what the baselines score on the same frames
('<baseline>_<metric>', 'skill_<metric>_vs_<baseline>' = system / baseline, < 1 = better) and
'verdict': one sentence per output saying which baselines the system beats.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time
import warnings

from rmdepth_ros.evaluation.skill import verdicts
from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.weights import read_metadata
from rmdepth_training.datasets import EVALUATION_SEED, VALIDATION_SEED, validation_sequences
from rmdepth_training.evaluation import AbsRelBreakdown, evaluate_sequences, kitti_snippet_ate

DEFAULT_KITTI = Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'kitti_odometry_06'


def evaluate(weights: str | None, sequences: int = 8, frames: int = 20,
             render: tuple[int, int] | None = None, kitti: Path | None = None,
             device: str = 'cpu', breakdown: bool = False,
             first_seed: int = EVALUATION_SEED) -> dict:
    """All metrics of one weights file as a nested dict (see the module docstring)."""
    metadata = read_metadata(weights) if weights else None
    estimator = Estimator(weights, device=device, output='input')
    size = estimator.input_size
    results: dict = {'weights': weights or 'default', 'model_id': estimator.model_id,
                     'input_size': list(size),
                     'trained_on': (metadata or estimator.metadata).get('trained_on', ''),
                     'synthetic_seeds': [first_seed, first_seed + sequences - 1]}
    sizes = [size] + ([render] if render and tuple(render) != tuple(size) else [])
    for width, height in sizes:
        tick = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)  # renderer NaN on sky rays
            data = validation_sequences(width, height, sequences, frames, first_seed)
            split = AbsRelBreakdown() if breakdown else None
            rows: list[dict] = []
            metrics = evaluate_sequences(estimator, data, breakdown=split, comparison=rows)
            metrics['verdict'] = verdicts(rows)
            if split is not None:
                metrics['abs_rel_breakdown'] = split.result()
        metrics['seconds'] = time.perf_counter() - tick
        results[f'synthetic_{width}x{height}'] = metrics
    if kitti is not None and Path(kitti).is_dir():
        from rmdepth_ros.datasets.kitti import KittiOdometrySequence

        results['kitti_odometry_ate'] = {'folder': str(kitti),
                                         **kitti_snippet_ate(estimator,
                                                             KittiOdometrySequence(kitti))}
    return results


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must be WIDTHxHEIGHT, got {text!r}') from None
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='rmdepth-train evaluate', description=__doc__.split(
        '\n')[0])
    parser.add_argument('weights', nargs='?', default=None,
                        help='weights file (default: the shipped default weights)')
    parser.add_argument('--sequences', type=int, default=8)
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--render', type=_size, default=None,
                        help='also render the synthetic sequences at this size (e.g. 640x192)')
    parser.add_argument('--kitti-odometry', default=str(DEFAULT_KITTI),
                        help='KITTI odometry folder for the snippet ATE ("" to skip)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', type=Path, help='also write the results here')
    parser.add_argument('--breakdown', action='store_true',
                        help='also AbsRel by depth bin and on moving / static pixels')
    parser.add_argument('--seeds', choices=('evaluation', 'validation'), default='evaluation',
                        help='synthetic seeds: the held-out evaluation ones (default) or the '
                             'validation ones (for choosing between weights)')
    args = parser.parse_args(argv)
    kitti = Path(args.kitti_odometry) if args.kitti_odometry else None  # '' (Path: '.') skips
    first_seed = EVALUATION_SEED if args.seeds == 'evaluation' else VALIDATION_SEED
    results = evaluate(args.weights, args.sequences, args.frames, args.render, kitti,
                       args.device, args.breakdown, first_seed)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
