"""rmdepth-synth: write a synthetic street sequence (rmdepth_ros.synth.sequence) to disk.

    rmdepth-synth --out DIR --frames N --seed S [--size 640x192] [--fps 10] [--motion drive]
                  [--look classic|photo]
                  [--format folder|mcap|sqlite3]

mcap / sqlite3 write a ROS 2 bag folder at DIR (topics in rmdepth_ros.bags.layout; DIR must
not exist) whose stamps start at 2026-01-01T00:00:00Z (bags.writer.SYNTHETIC_START), not at 0.
`folder` writes this layout into a new or empty DIR (N frames, i zero-padded to 6 digits):

    DIR/meta.json               format name and version, the full SynthConfig, size, fps,
                                frame count, intrinsics, and the units of every file below
    DIR/intrinsics.txt          3x3 camera matrix K, pixels, one row per line
    DIR/poses.txt               KITTI odometry format: line i = the first 3 rows of frame i's 4x4
                                camera-to-world pose, row-major (world = frame 0's camera)
    DIR/timestamps.txt          line i = frame i's time, seconds
    DIR/image/{i}.png           RGB image, 8-bit
    DIR/depth/{i}.npy           (H, W) float32 metres along the optical axis, +inf = sky
    DIR/motion_mask/{i}.png     8-bit, 255 = independently moving object, 0 = static
    DIR/flow/{i}.npy            (H, W, 2) float32 pixels, frames 1..N-1: the point at (x, y)
                                was at (x - u, y - v) in frame i - 1; NaN where undefined
    DIR/flow_valid/{i}.png      8-bit, 255 where the flow is valid (visible in frame i - 1)
    DIR/object_motion/{i}.npy   (H, W, 3) float32 metres, frames 1..N-1: displacement of the
                                point since frame i - 1, frame i's camera optical frame

Frame 0 has no flow, flow_valid or object_motion file (there is no previous frame). Conventions
in docs/conventions.md. Errors in the arguments are reported in one line (exit status 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
import re
import tempfile

import cv2
import numpy as np

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.synth.config import LOOKS, MOTIONS
from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

FORMAT_NAME = 'rmdepth-synthetic-folder'
FORMAT_VERSION = 1


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r'\s*(\d+)\s*[xX]\s*(\d+)\s*', text)
    if not match:
        raise argparse.ArgumentTypeError(f'size must be WIDTHxHEIGHT (e.g. 640x192), not '
                                         f'{text!r}')
    return int(match.group(1)), int(match.group(2))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='rmdepth-synth', description='Generate a synthetic street sequence with exact depth, '
        'pose, flow, moving-object masks and object motion.')
    parser.add_argument('--out', required=True, type=Path,
                        help='output folder (folder format) or bag folder to create')
    parser.add_argument('--frames', type=int, default=100, help='number of frames (default 100)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--size', type=_size, default=(640, 192),
                        help='image size WIDTHxHEIGHT (default 640x192)')
    parser.add_argument('--fps', type=float, default=10.0, help='frame rate, Hz (default 10)')
    parser.add_argument('--motion', choices=MOTIONS, default='drive',
                        help="camera motion: 'drive' (default), 'diverse' (a style drawn from "
                             'the seed) or one style (see rmdepth_ros/synth/agile.py)')
    parser.add_argument('--look', choices=LOOKS, default='classic',
                        help="appearance: 'classic' (default) or 'photo' (photo textures, sun "
                             'and shadows, camera effects)')
    parser.add_argument('--format', choices=('folder', 'mcap', 'sqlite3'), default='folder',
                        help='output format (default folder)')
    return parser


def _check_output(parser: argparse.ArgumentParser, out: Path, bag: bool) -> None:
    """Fail with one line unless `out` can be written: a new or empty folder, or for a bag a
    folder that does not exist yet."""
    if bag:
        if out.exists():
            parser.error(f'{out} exists; a bag is written to a new folder')
        target = out.parent if str(out.parent) else Path('.')
        if not target.is_dir() or not os.access(target, os.W_OK | os.X_OK):
            parser.error(f'cannot create {out}: {target} is not a writable folder')
        return
    if out.exists() and not out.is_dir():
        parser.error(f'{out} exists and is not a folder')
    if out.is_dir() and any(out.iterdir()):
        parser.error(f'{out} is not empty; give a new or empty folder (nothing is overwritten)')
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        parser.error(f'cannot write to {out}: {error.strerror or error}')


def write_folder(frames, out: Path, config: SynthConfig) -> int:
    """Write `frames` (an iterable of Frame) in the folder format above; returns the count."""
    for sub in ('image', 'depth', 'motion_mask', 'flow', 'flow_valid', 'object_motion'):
        (out / sub).mkdir(parents=True, exist_ok=True)
    poses, stamps = [], []
    count = 0
    for frame in frames:
        _write_frame(out, frame)
        poses.append(' '.join(f'{v:.9e}' for v in frame.pose[:3].ravel()))
        stamps.append(f'{frame.timestamp:.9f}')
        count += 1
    (out / 'poses.txt').write_text('\n'.join(poses) + '\n')
    (out / 'timestamps.txt').write_text('\n'.join(stamps) + '\n')
    k = config.intrinsics
    (out / 'intrinsics.txt').write_text(
        '\n'.join(' '.join(f'{v:.9g}' for v in row) for row in k) + '\n')
    meta = {
        'format': FORMAT_NAME, 'version': FORMAT_VERSION, 'frames': count,
        'width': config.width, 'height': config.height, 'fps': config.fps,
        'intrinsics': k.tolist(), 'config': dataclasses.asdict(config),
        'files': {
            'image/%06d.png': 'RGB uint8',
            'depth/%06d.npy': 'float32 (H, W) metres, optical z, +inf = sky',
            'motion_mask/%06d.png': 'uint8, 255 = independently moving',
            'flow/%06d.npy': 'float32 (H, W, 2) pixels from frame i-1 (from frame 1)',
            'flow_valid/%06d.png': 'uint8, 255 = flow valid (from frame 1)',
            'object_motion/%06d.npy': 'float32 (H, W, 3) metres, current camera frame '
                                      '(from frame 1)',
            'poses.txt': 'KITTI 3x4 camera-to-world per line; world = frame 0 camera',
            'timestamps.txt': 'seconds per line',
            'intrinsics.txt': '3x3 K, pixels, OpenCV pixel-centre convention',
        },
        'conventions': 'docs/conventions.md of rmdepth_ros',
    }
    (out / 'meta.json').write_text(json.dumps(meta, indent=2) + '\n')
    return count


def _write_frame(out: Path, frame: Frame) -> None:
    name = f'{frame.index:06d}'
    cv2.imwrite(str(out / 'image' / f'{name}.png'), frame.image[..., ::-1])
    np.save(out / 'depth' / f'{name}.npy', frame.depth)
    cv2.imwrite(str(out / 'motion_mask' / f'{name}.png'),
                frame.motion_mask.astype(np.uint8) * 255)
    if frame.flow is not None:
        np.save(out / 'flow' / f'{name}.npy', frame.flow)
        cv2.imwrite(str(out / 'flow_valid' / f'{name}.png'),
                    frame.flow_valid.astype(np.uint8) * 255)
        np.save(out / 'object_motion' / f'{name}.npy', frame.object_motion)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `rmdepth-synth`; returns 0 on success (argument errors exit with 2)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error(f'--frames must be at least 1, got {args.frames}')
    width, height = args.size
    try:
        config = SynthConfig(width=width, height=height, frames=args.frames, seed=args.seed,
                             fps=args.fps, motion=args.motion, look=args.look)
    except ValueError as error:
        parser.error(str(error))
    bag = args.format != 'folder'
    _check_output(parser, args.out, bag)
    sequence = SyntheticSequence(config)
    if bag:
        # only the bag formats need rosbags
        from rmdepth_ros.bags.writer import SYNTHETIC_START, write_bag
        write_bag(sequence, args.out, storage=args.format, fps=config.fps,
                  camera_height=config.camera_height, start_time=SYNTHETIC_START)
        count = len(sequence)
    else:
        count = write_folder(sequence, args.out, config)
    print(f'wrote {count} frames of {sequence.name} to {args.out} ({args.format})')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
