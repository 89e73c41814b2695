"""`make demo`: run the estimator over the embedded default sequence and report what it produced.

The embedded default sequence is the synthetic street world with a fixed seed (exact ground
truth for depth, camera motion, flow and moving-object masks). The demo runs the shipped
weights (or, if none ship yet, randomly initialised weights, and says so), scores every output
against the ground truth, writes `summary.json` and a picture of sample frames to the output
folder, and prints a short table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time

import cv2
import numpy as np

from rmdepth_ros.data.synthetic import SynthConfig, SyntheticSequence
from rmdepth_ros.evaluation.metrics import (
    depth_metrics,
    flow_epe,
    mask_counts,
    mean_metrics,
    motion_errors,
)
from rmdepth_ros.inference import Estimator
from rmdepth_ros.model.weights import DEFAULT_WEIGHTS, WeightsError
from rmdepth_ros.ros.colormaps import colorize_depth, colorize_flow, overlay_mask

DEMO_SEED = 20221  # the embedded default sequence; never used for training


def _say(message: str) -> None:
    print(f'[demo] {message}', flush=True)


def _weights(out_dir: Path) -> tuple[Path, bool]:
    """The shipped weights, or freshly written untrained weights when none ship."""
    if DEFAULT_WEIGHTS.is_file():
        return DEFAULT_WEIGHTS, True
    from rmdepth_ros.model.weights import main as weights_cli

    path = out_dir / 'untrained.safetensors'
    _say(f'no shipped weights at {DEFAULT_WEIGHTS}; using UNTRAINED random weights '
         f'(depth is not meaningful until trained weights ship)')
    weights_cli(['init', '--out', str(path), '--seed', '0'])
    return path, False


def _mosaic_row(frame, out) -> np.ndarray:
    """input | depth | flow | mask overlay, each (H, W, 3) bgr8."""
    image_bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
    depth = colorize_depth(out.depth, 1.0, 80.0)
    if out.flow is None:
        flow = np.zeros_like(image_bgr)
        mask = image_bgr
    else:
        flow = colorize_flow(out.flow, 30.0)
        mask = overlay_mask(frame.image, out.motion_mask)
    return np.hstack([image_bgr, depth, flow, mask])


def run(out_dir: Path, frames: int, size: tuple[int, int], device: str) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    weights, trained = _weights(out_dir)
    estimator = Estimator(weights, device=device)
    _say(f'weights {weights} (model id {estimator.model_id}), network input '
         f'{estimator.input_size[0]}x{estimator.input_size[1]}, device {estimator.device}')
    config = SynthConfig(width=size[0], height=size[1], frames=frames, seed=DEMO_SEED)
    _say(f'generating the default sequence: synthetic street world, seed {DEMO_SEED}, '
         f'{frames} frames at {size[0]}x{size[1]}, {config.fps:g} Hz')
    depth_rows, motion_rows, epes, rows = [], [], [], []
    intersection = union = 0
    previous_pose = None
    busy = 0.0
    for frame in SyntheticSequence(config):
        start = time.perf_counter()
        out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
        busy += time.perf_counter() - start
        metrics = depth_metrics(frame.depth, out.depth)
        if metrics is not None:
            depth_rows.append(metrics)
        if out.motion is not None:
            truth = np.linalg.inv(previous_pose) @ frame.pose   # T_prev_cur
            motion_rows.append(motion_errors(out.motion, truth))
            epe = flow_epe(out.flow, frame.flow, frame.flow_valid)
            if epe is not None:
                epes.append(epe)
            inter, uni = mask_counts(out.motion_mask, frame.motion_mask)
            intersection, union = intersection + inter, union + uni
        previous_pose = frame.pose
        if frame.index in (1, frames // 2, frames - 1):
            rows.append(_mosaic_row(frame, out))
        print(f'\r[demo] frame {frame.index + 1}/{frames}', end='', flush=True)
    print()
    summary = {
        'weights': str(weights), 'trained_weights': trained, 'model_id': estimator.model_id,
        'frames': frames, 'size': list(size), 'seed': DEMO_SEED,
        'fps': frames / busy if busy > 0 else None,
        'depth': mean_metrics(depth_rows),
        'camera_motion': mean_metrics(motion_rows),
        'flow_epe_px': float(np.mean(epes)) if epes else None,
        'mask_iou': intersection / union if union else None,
    }
    (out_dir / 'summary.json').write_text(json.dumps(summary, indent=2))
    cv2.imwrite(str(out_dir / 'samples.png'), np.vstack(rows))
    return summary


def _print_table(summary: dict, out_dir: Path) -> None:
    depth, motion = summary['depth'], summary['camera_motion']
    lines = [
        ('weights', 'shipped' if summary['trained_weights'] else 'UNTRAINED (random)'),
        ('frames / speed', f"{summary['frames']} frames, {summary['fps']:.2f} FPS"),
        ('depth AbsRel (median-scaled)', f"{depth.get('abs_rel', float('nan')):.3f}"),
        ('depth RMSE (m)', f"{depth.get('rmse', float('nan')):.2f}"),
        ('depth delta<1.25', f"{depth.get('a1', float('nan')):.3f}"),
        ('camera rotation error (deg)', f"{motion.get('rot_err_deg', float('nan')):.3f}"),
        ('flow EPE (px)', f"{summary['flow_epe_px']:.2f}" if summary['flow_epe_px'] is not None
         else 'n/a'),
        ('moving-object IoU', f"{summary['mask_iou']:.3f}" if summary['mask_iou'] is not None
         else 'n/a'),
    ]
    width = max(len(name) for name, _ in lines)
    print()
    for name, value in lines:
        print(f'  {name:<{width}}  {value}')
    print(f'\n  results: {out_dir / "summary.json"}\n  pictures: {out_dir / "samples.png"}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='rmdepth-demo', description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='demo_output', help='output folder')
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--size', default='640x192', help='camera image size WxH')
    parser.add_argument('--device', default='auto')
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        parser.error(f'--size must be WIDTHxHEIGHT, got {args.size!r}')
    if args.frames < 2:
        parser.error('--frames must be at least 2')
    out_dir = Path(args.out)
    try:
        summary = run(out_dir, args.frames, (width, height), args.device)
    except (WeightsError, ValueError) as error:
        print(f'rmdepth-demo: {error}', file=sys.stderr)
        return 1
    _print_table(summary, out_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
