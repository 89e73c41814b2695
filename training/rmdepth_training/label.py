"""Pseudo-labels from geometry: the estimator's fused depth over a video, written for training.

    rmdepth-train label SOURCE --out DIR [--weights FILE] [--device cpu] [--resize native]

SOURCE is anything `rmdepth_ros.open_sequence` reads (a ROS 2 bag, a folder of images with
intrinsics, a KITTI / TUM folder, ...). The estimator runs on every frame, in order, with
`depth_source: fused` (docs/depth_from_motion.md): where the camera's motion measured depth,
the label is that measurement; elsewhere it is the network's own depth and its confidence says
so. Per frame, DIR/NNNNNN.npz (NNNNNN = the frame's index in SOURCE) holds:

    'depth'       (H, W) float32 model units along the optical axis, NaN = none
    'confidence'  (H, W) float32 relative 1-sigma of depth (sigma_z / z)
    'moving'      (H, W) bool, independently moving pixels (never train depth on them)
    'motion'      (4, 4) float64 T_prev_cur, model units, NaN when the frame has none
    'intrinsics'  (3, 3) float64 of the label's grid (the input image's)
    'observed'    () float32 share of the frame that the camera's motion measured
    'timestamp'   () float64 seconds

and DIR/manifest.json says what made them: the source, the weights' model id, the settings,
the image size, the frame count and the format version. A label is written to a temporary file
and renamed, so an interrupted run leaves only whole files. A second run with the same source
and settings resumes: it starts `WARMUP_FRAMES` before the first missing label (the depth filter
needs those frames to rebuild its belief) and writes only what is missing. A folder labelled
with other weights, settings or another source is refused with one line (exit status 2).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import numpy as np
from tqdm import tqdm

from rmdepth_ros.datasets.sequence import DataError
from rmdepth_ros.inference import Estimator
from rmdepth_ros.open_sequence import open_sequence
from rmdepth_ros.resize import DEFAULT_RESIZE, RESIZE_MODES

#: the layout version of the label files (bump when a key changes meaning)
FORMAT = 1
#: frames run (not written) before the first missing label when resuming
WARMUP_FRAMES = 10
MANIFEST = 'manifest.json'


class LabelError(Exception):
    """A label folder that does not fit this run: one line for the user."""


def label_path(folder: Path, index: int) -> Path:
    return folder / f'{index:06d}.npz'


def read_label(path: str | Path) -> dict[str, np.ndarray]:
    """One label file as a dict of arrays (module docstring); DataError when it is not one."""
    try:
        with np.load(path) as data:
            label = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise DataError(f'{path}: not a label file ({error})') from error
    missing = {'depth', 'confidence', 'moving', 'motion', 'intrinsics'} - set(label)
    if missing:
        raise DataError(f"{path}: label file lacks {', '.join(sorted(missing))}")
    return label


def manifest_for(source: str, estimator: Estimator, frames: int,
                 size: tuple[int, int]) -> dict:
    """What identifies a labelling run (a resumed run must match it)."""
    return {'format': FORMAT, 'source': str(Path(source).resolve()),
            'model_id': estimator.model_id, 'depth_source': estimator.depth_source,
            'motion_source': estimator.motion_source, 'resize': estimator.resize,
            'frames': frames, 'image_size': list(size)}


def check_manifest(folder: Path, manifest: dict) -> None:
    """Write the manifest into a new folder; refuse a folder labelled by another run."""
    path = folder / MANIFEST
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError as error:
            raise LabelError(f'{path}: unreadable manifest ({error})') from error
        differs = sorted(key for key in manifest if old.get(key) != manifest[key])
        if differs:
            raise LabelError(f"{folder} holds labels made with other {', '.join(differs)} "
                             f"({', '.join(f'{k}: {old.get(k)}' for k in differs)}); choose "
                             'another --out')
        return
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + '\n')


def first_missing(folder: Path, frames: int) -> int:
    """Index of the first frame without a label (frames when all are there)."""
    for index in range(frames):
        if not label_path(folder, index).is_file():
            return index
    return frames


def write_label(folder: Path, index: int, out) -> None:
    """One frame's label, written whole or not at all."""
    motion = np.full((4, 4), np.nan) if out.motion is None else out.motion
    confidence = out.confidence if out.confidence is not None else np.full(
        out.depth.shape, np.nan, np.float32)
    moving = np.zeros(out.depth.shape, bool) if out.motion_mask is None else out.motion_mask
    observed = 0.0 if out.geometry is None else out.geometry.observed
    final = label_path(folder, index)
    partial = final.with_name(final.stem + '.partial.npz')
    np.savez_compressed(partial, depth=out.depth.astype(np.float32),
                        confidence=confidence.astype(np.float32), moving=moving.astype(bool),
                        motion=np.asarray(motion, np.float64),
                        intrinsics=np.asarray(out.intrinsics, np.float64),
                        observed=np.float32(observed), timestamp=np.float64(out.timestamp))
    partial.replace(final)


def label(source: str, out_dir: str | Path, weights: str | None = None, device: str = 'cpu',
          resize: str = DEFAULT_RESIZE, progress: bool = True) -> dict:
    """Label every frame of `source` into `out_dir` (module docstring). Returns a summary:
    frames, written, skipped (already there), started_at, observed (mean share measured)."""
    folder = Path(out_dir)
    sequence = open_sequence(source)
    frames = len(sequence)
    if frames == 0:
        raise DataError(f'{source}: no frames')
    first = sequence[0]
    size = (first.image.shape[1], first.image.shape[0])
    estimator = Estimator(weights, device=device, resize=resize, depth_source='fused')
    check_manifest(folder, manifest_for(source, estimator, frames, size))
    missing = first_missing(folder, frames)
    start = max(0, missing - WARMUP_FRAMES) if missing < frames else frames  # all there
    written, observed = 0, []
    bar = tqdm(range(start, frames), unit='frame', disable=not progress, desc='label')
    for index in bar:
        frame = first if index == 0 else sequence[index]
        out = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
        if out.geometry is not None:
            observed.append(out.geometry.observed)
        if index >= missing and not label_path(folder, index).is_file():
            write_label(folder, index, out)
            written += 1
    return {'frames': frames, 'written': written, 'skipped': frames - written,
            'started_at': start, 'observed': float(np.mean(observed)) if observed else 0.0,
            'out': str(folder)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='rmdepth-train label',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('source', help='a video: bag, image folder, KITTI / TUM folder, ...')
    parser.add_argument('--out', required=True, help='the label folder (created; resumable)')
    parser.add_argument('--weights', help='weights file (default: the shipped weights)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--resize', choices=RESIZE_MODES, default=DEFAULT_RESIZE)
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    try:
        summary = label(args.source, args.out, args.weights, args.device, args.resize,
                        progress=not args.no_progress)
    except (DataError, LabelError) as error:
        print(f'rmdepth-train label: error: {error}', file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0
