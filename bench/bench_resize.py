"""Compare the estimator's resize modes on real images of several aspect ratios (../shared/data).

    .venv/bin/python bench/bench_resize.py [--data ../shared/data] [--weights FILE]
        [--modes crop,pad,stretch,native] [--budgets 192x64,320x96] [--sets ddad,kitti_stereo]
        [--views full,4:3,16:9] [--frames N] [--motion] [--json out.json]

Depth only, every image on its own (the depth network sees one frame). Sets: the DDAD sample
(1936x1216, LiDAR off the ego body) and KITTI 00 frames 0-99 against stereo depth (1241x376,
`datasets/kitti_stereo.py`). Views: the full image, and centre crops of 4:3 and 16:9 made from
it (intrinsics shifted by the crop; scored on the ground-truth pixels inside). Metrics, per
(mode, budget) and view: AbsRel after per-image median scaling, cap 80 m, on the ground-truth
pixels the mode estimates ('own'); the same on the pixels inside the crop window, one set for
every mode ('common'); 'finite': the fraction of the image's pixels with a finite depth;
'ms': mean wall time of `process` per image. The constant map is the reference. Budgets are
network input sizes: crop / pad / stretch run at that size, native at that pixel count in the
image's own aspect (`resize.native_size`). --motion adds the old camera-motion check: KITTI 00,
200 frames, 5-frame snippet ATE per mode (the weights' input size).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

import numpy as np

from rmdepth_ros.evaluation.metrics import depth_metrics
from rmdepth_ros.evaluation.trajectory import rpe, trajectory_snippet_ate
from rmdepth_ros.inference import Estimator
from rmdepth_ros.open_sequence import open_sequence
from rmdepth_ros.resize import input_window

DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'
VIEWS = {'full': None, '4:3': 4 / 3, '16:9': 16 / 9}
CAP = 80.0


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split('x'))
    return width, height


def centre_view(image: np.ndarray, depth: np.ndarray, K: np.ndarray, aspect: float | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The largest centred crop of `aspect` (None = the whole image), with its depth and K."""
    height, width = image.shape[:2]
    if aspect is None:
        return image, depth, K
    new_w, new_h = min(width, round(height * aspect)), min(height, round(width / aspect))
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    shifted = np.array(K, dtype=np.float64, copy=True)
    shifted[0, 2] -= x0
    shifted[1, 2] -= y0
    return (np.ascontiguousarray(image[y0:y0 + new_h, x0:x0 + new_w]),
            depth[y0:y0 + new_h, x0:x0 + new_w], shifted)


def _abs_rel(gt: np.ndarray, pred: np.ndarray, keep: np.ndarray) -> float | None:
    metrics = depth_metrics(np.where(keep, gt, np.nan), pred, max_depth=CAP)
    return None if metrics is None else metrics['abs_rel']


def frames_of(name: str, data: Path, count: int | None) -> list:
    if name == 'ddad':
        sequence = open_sequence(data / 'ddad_sample')
    else:
        from rmdepth_ros.datasets.kitti_stereo import KittiStereoSequence

        sequence = KittiStereoSequence(data / 'kitti_odometry_00', poses=False)
    count = len(sequence) if count is None else min(count, len(sequence))
    return [sequence[i] for i in range(count)]


def score_depth(columns: dict[str, Estimator], frames: list, views: list[str]) -> dict:
    """{view: {column: {own, common, coverage, finite, ms}}} (means over the frames)."""
    result = {}
    for view in views:
        rows = {c: {k: [] for k in ('own', 'common', 'coverage', 'finite', 'ms')}
                for c in [*columns, 'constant']}
        for frame in frames:
            image, gt, K = centre_view(frame.image, frame.depth, frame.intrinsics, VIEWS[view])
            height, width = gt.shape
            known = np.isfinite(gt) & (gt < CAP)
            if known.sum() < 100:
                continue
            some = next(iter(columns.values()))
            window = input_window((width, height), some.input_size, 'crop')
            in_crop = np.zeros_like(known)
            in_crop[max(0, window.y0):window.y0 + window.height,
                    max(0, window.x0):window.x0 + window.width] = True
            predictions = {}
            for column, estimator in columns.items():
                estimator.reset()
                start = time.perf_counter()
                predictions[column] = estimator.process(image, K, 0.0,
                                                        compute_motion=False).depth
                rows[column]['ms'].append((time.perf_counter() - start) * 1000.0)
            predictions['constant'] = np.ones_like(gt)
            for column, pred in predictions.items():
                row = rows[column]
                row['own'].append(_abs_rel(gt, pred, known))
                row['common'].append(_abs_rel(gt, pred, known & in_crop))
                row['coverage'].append(float((known & np.isfinite(pred)).sum() / known.sum()))
                row['finite'].append(float(np.isfinite(pred).mean()))
        result[view] = {c: {k: float(np.mean([v for v in values if v is not None]))
                            if values else None for k, values in row.items()}
                        for c, row in rows.items()}
    return result


def score_motion(columns: dict[str, Estimator], root: Path, frames: int) -> dict[str, dict]:
    sequence = open_sequence(root)
    count = min(frames, len(sequence))
    gt = np.stack([sequence[i].pose for i in range(count)])
    poses = {column: [np.eye(4)] for column in columns}
    for estimator in columns.values():
        estimator.reset()
    for i in range(count):
        frame = sequence[i]
        for column, estimator in columns.items():
            out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
            if i:
                motion = out.motion if out.motion is not None else np.eye(4)
                poses[column].append(poses[column][-1] @ motion)
    return {column: {**trajectory_snippet_ate(gt, np.stack(chain)), **rpe(gt, np.stack(chain))}
            for column, chain in poses.items()}


def _print_depth(title: str, table: dict) -> None:
    for view, rows in table.items():
        print(f'\n{title}, view {view}: depth AbsRel (median-scaled, cap {CAP:g} m)')
        print('| resize | AbsRel own pixels | GT coverage | finite pixels | '
              'AbsRel common (crop window) | ms per image |')
        print('|---|---:|---:|---:|---:|---:|')
        for column, row in rows.items():
            ms = '' if row['ms'] is None else f"{row['ms']:.0f}"
            print(f"| {column} | {row['own']:.3f} | {row['coverage']:.3f} | "
                  f"{row['finite']:.3f} | {row['common']:.3f} | {ms} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=DATA)
    parser.add_argument('--weights')
    parser.add_argument('--modes', default='crop,pad,stretch,native')
    parser.add_argument('--budgets', default='',
                        help="network sizes WxH, comma separated (default: the weights')")
    parser.add_argument('--sets', default='ddad,kitti_stereo')
    parser.add_argument('--views', default='full,4:3,16:9')
    parser.add_argument('--frames', type=int, help='at most N images per set')
    parser.add_argument('--motion', action='store_true')
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    default = Estimator(args.weights, device='cpu')
    budgets = [_size(b) for b in args.budgets.split(',') if b] or [default.input_size]
    columns = {}
    for budget in budgets:
        for mode in args.modes.split(','):
            name = mode if len(budgets) == 1 else f'{mode} {budget[0]}x{budget[1]}'
            columns[name] = Estimator(args.weights, device='cpu', resize=mode, input_size=budget)
    result: dict = {'budgets': budgets, 'modes': args.modes.split(',')}
    for name in args.sets.split(','):
        frames = frames_of(name, args.data, args.frames)
        result[name] = score_depth(columns, frames, args.views.split(','))
        _print_depth(f'{name} ({len(frames)} images)', result[name])
    if args.motion:
        motion = {c: e for c, e in columns.items() if e.input_size == default.input_size}
        result['kitti_00_motion'] = score_motion(motion, args.data / 'kitti_odometry_00', 200)
        print('\nKITTI odometry 00, 200 frames')
        print('| resize | snippet ATE (m) | RPE rot (deg/frame) |')
        print('|---|---:|---:|')
        for column, row in result['kitti_00_motion'].items():
            print(f"| {column} | {row['snippet_ate_mean']:.4f} | {row['rpe_rot_mean']:.3f} |")
    print(f'\n{time.perf_counter() - start:.0f} s')
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
