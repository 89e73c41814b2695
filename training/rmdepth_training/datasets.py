"""Training data: triplets (t - k, t, t + k) from the synthetic world, KITTI raw, Cityscapes, bags.

Every source is read through the readers of `rmdepth_ros.datasets`, `rmdepth_ros.bags` and
`rmdepth_ros.synth`; this module only picks triplets,
resizes them to the network size (intrinsics scaled by docs/conventions.md) and augments them.

Batch keys (what the training loop receives; B = per-process batch, F = 3 frames, H x W the
configured network size, or the batch's own size under augment.aspect_prob, `aspect.py`):

    'images'      (B, F, 3, H, W) float32 RGB in [0, 1], frames (t - k, t, t + k), target at
                  index 1; flipped like the network input but NOT colour-jittered: the losses
                  compare these.
    'images_aug'  (B, F, 3, H, W) float32, the same frames colour-jittered: the networks see
                  these.
    'K'           (B, 3, 3) float32 intrinsics in pixels of the (H, W) images (after flipping).
    'index'       (B,) int64 global sample number: sample n of the run's stream. Together with
                  the run seed it fixes the sample's content and augmentation, which makes the
                  stream independent of worker count and exactly resumable.
    'gt_*'        ground truth for the supervised warm start (`supervised.py`, shapes in
                  `triplets.py`): exact for the synthetic world, zeros with 'gt_valid' 0 for
                  real video; flipped with the images.

Stream order: the run is a sequence of global batches; global batch s holds sample numbers
s * batch_size ... (s + 1) * batch_size - 1, and process r of N takes its contiguous 1/N slice.
A finite dataset maps sample n to its item through a per-epoch permutation; the synthetic world
renders sample n from a fresh sequence with a seed derived from (run seed, n), always at or above
`TRAIN_SEED_OFFSET`; seeds below it are held out for validation and evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
import math
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from rmdepth_ros.datasets.sequence import DataError, Sequence
from rmdepth_training.aspect import batch_size_for, crop_triplet, random_window, resize_truth
from rmdepth_training.augment import augment
from rmdepth_training.config import AugmentConfig, DataConfig, TrainConfig
from rmdepth_training.interrupt import ignore_in_worker
from rmdepth_training.synthetic_triplets import SyntheticTriplets
from rmdepth_training.triplets import (
    TRAIN_SEED_OFFSET,
    Triplet,
    TripletSample,
    TripletSource,
    flip_truth,
    no_truth,
)

__all__ = ['TRAIN_SEED_OFFSET', 'SyntheticTriplets', 'TripletSource', 'TrainStream',
           'build_source', 'build_train_loader', 'steps_per_epoch', 'validation_sequences']

# Held-out synthetic seeds of the per-epoch validation and of the evaluation script.
VALIDATION_SEED = 1000
EVALUATION_SEED = 2000
# Domain-separation tags of the per-sample random streams.
_CONTENT, _AUGMENT, _PERMUTE, _ASPECT = 1, 2, 3, 4


def resize_triplet(images: list[np.ndarray], K: np.ndarray, width: int, height: int,
                   crop_bottom: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (any size, RGB or gray) -> (F, height, width, 3) float32 in [0, 1] and K.

    crop_bottom: fraction of rows removed at the bottom first (Cityscapes' ego-car hood); the
    crop keeps the top-left origin, so K is unchanged by it. K follows the resize by
    fx' = fx W'/W, cx' = (cx + 0.5) W'/W - 0.5 (and the same for y).
    """
    out = []
    src_h, src_w = images[0].shape[:2]
    if crop_bottom > 0:
        src_h = int(round(src_h * (1 - crop_bottom)))
    for image in images:
        image = image[:src_h]
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.shape[:2] != (height, width):
            shrinking = image.shape[0] > height and image.shape[1] > width
            image = cv2.resize(image, (width, height),
                               interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        out.append(image)
    sx, sy = width / src_w, height / src_h
    S = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
    frames = np.stack(out).astype(np.float32) / 255.0  # (F, H, W, 3)
    return frames, S @ np.asarray(K, dtype=np.float64)


# -- triplet sources -----------------------------------------------------------------------------

class SequenceTriplets(TripletSource):
    """Triplets from the sequence readers: list of (sequence factory key, target index).

    Subclasses fill `self.items` with (key, index) and implement `_open(key)`; opened sequences
    are cached per process (DataLoader workers open their own).
    """

    def __init__(self, frame_step: int) -> None:
        self.frame_step = frame_step
        self.items: list[tuple[object, int]] = []
        self._cache: dict[object, Sequence] = {}

    @property
    def length(self) -> int:  # type: ignore[override]
        return len(self.items)

    def _open(self, key: object) -> Sequence:
        raise NotImplementedError

    def sequence(self, key: object) -> Sequence:
        if key not in self._cache:
            self._cache[key] = self._open(key)
        return self._cache[key]

    def triplet(self, item: int, rng: np.random.Generator) -> Triplet:
        key, index = self.items[item]
        sequence = self.sequence(key)
        frames = [sequence[index + d] for d in (-self.frame_step, 0, self.frame_step)]
        return [f.image for f in frames], frames[1].intrinsics


class KittiTriplets(SequenceTriplets):
    """KITTI raw with a split file of lines '2011_09_26/2011_09_26_drive_0001_sync 5 l'.

    'l' is camera 2 (left colour), 'r' camera 3. Lines whose neighbours fall outside the drive
    are dropped (the Eigen-Zhou split already excludes them).
    """

    def __init__(self, root: str, split: str, frame_step: int) -> None:
        super().__init__(frame_step)
        self.root = Path(root)
        path = Path(split)
        if not path.is_file():
            raise DataError(f'{path}: KITTI split file not found')
        counts: dict[tuple[str, int], int] = {}
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3 or parts[2] not in ('l', 'r') or not parts[1].isdigit():
                raise DataError(f"{path}:{number}: expected 'DATE/DRIVE_sync FRAME l|r', "
                                f'got {line!r}')
            key = (parts[0], 2 if parts[2] == 'l' else 3)
            if key not in counts:
                counts[key] = len(self.sequence(key))
            index = int(parts[1])
            if frame_step <= index < counts[key] - frame_step:
                self.items.append((key, index))
        if not self.items:
            raise DataError(f'{path}: no usable triplets')
        self.description = (f'KITTI raw ({self.root}), split {path.name}: '
                            f'{len(self.items)} triplets')

    def _open(self, key: object) -> Sequence:
        from rmdepth_ros.datasets.kitti import KittiRawSequence

        folder, camera = key  # type: ignore[misc]
        return KittiRawSequence(self.root / folder, camera=camera, depth=False, poses=False)


class CityscapesTriplets(SequenceTriplets):
    """Cityscapes leftImg8bit_sequence/<split>/<city>: triplets inside one 30-frame snippet.

    The bottom 25 % (ego-car hood) is cropped before resizing (spec 4.1).
    """

    crop_bottom = 0.25

    def __init__(self, root: str, split: str, frame_step: int) -> None:
        super().__init__(frame_step)
        base = Path(root) / 'leftImg8bit_sequence' / (split or 'train')
        cities = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        if not cities:
            raise DataError(f'{base}: no city folders (expected the Cityscapes '
                            'leftImg8bit_sequence layout)')
        for city in cities:
            sequence = self.sequence(city)
            snippets = [snippet for _, _, snippet in sequence.frames]
            for index in range(frame_step, len(snippets) - frame_step):
                if snippets[index - frame_step] == snippets[index + frame_step]:
                    self.items.append((city, index))
        self.description = f'Cityscapes sequences ({base}): {len(self.items)} triplets'

    def _open(self, key: object) -> Sequence:
        from rmdepth_ros.datasets.cityscapes import CityscapesSequence

        return CityscapesSequence(key)  # type: ignore[arg-type]


class BagTriplets(SequenceTriplets):
    """ROS 2 bags (image + camera_info topics): triplets of frames (i - k, i, i + k).

    A triplet is skipped when the camera barely moved: the mean absolute difference of 64x32
    gray thumbnails between the target and either source is below `static_threshold`.
    """

    def __init__(self, bags: tuple[str, ...], image_topic: str, camera_info_topic: str,
                 frame_step: int, static_threshold: float) -> None:
        super().__init__(frame_step)
        self.topics = (image_topic or None, camera_info_topic or None)
        skipped = 0
        for bag in bags:
            thumbs = [_thumbnail(frame.image) for frame in self.sequence(bag)]
            for index in range(frame_step, len(thumbs) - frame_step):
                change = min(np.abs(thumbs[index] - thumbs[index + d]).mean()
                             for d in (-frame_step, frame_step))
                if change < static_threshold:
                    skipped += 1
                else:
                    self.items.append((bag, index))
        if not self.items:
            raise DataError(f'{", ".join(bags)}: no moving triplets (all {skipped} near-static; '
                            'lower data.static_threshold?)')
        self.description = (f'ROS 2 bags {", ".join(bags)}: {len(self.items)} triplets '
                            f'({skipped} near-static skipped)')

    def _open(self, key: object) -> Sequence:
        from rmdepth_ros.bags.reader import BagSequence

        # Only images and intrinsics are needed: '' switches the ground-truth topics off.
        return BagSequence(key, image_topic=self.topics[0], camera_info_topic=self.topics[1],
                           depth_topic='', odom_topic='', flow_topic='', mask_topic='')


class RealTriplets(SequenceTriplets):
    """Real video for self-supervised training: every (i - k, i, i + k) of each sequence.

    Paths are anything `rmdepth_ros.open_sequence` reads (e.g. a KITTI odometry folder); only
    images and intrinsics are used, never their ground truth. labels: one folder of
    `rmdepth-train label` pseudo-labels per path (or none): the target frame's label then
    rides along as 'pl_depth' / 'pl_weight' (`pseudo_labels.py`); a frame whose label file is
    missing trains without one (counted in `missing_labels`).
    """

    def __init__(self, paths: tuple[str, ...], frame_step: int,
                 labels: tuple[str, ...] = ()) -> None:
        super().__init__(frame_step)
        if labels and len(labels) != len(paths):
            raise DataError(f'{len(labels)} label folders for {len(paths)} real sequences: '
                            'give one per sequence, in the same order')
        self.labels = dict(zip(paths, labels, strict=False))
        self.missing_labels = 0
        for path in paths:
            count = len(self.sequence(path))
            self.items.extend((path, i) for i in range(frame_step, count - frame_step))
        for path, folder in self.labels.items():
            if not (Path(folder) / 'manifest.json').is_file():
                raise DataError(f'{folder}: not a label folder (no manifest.json; make one '
                                f'with rmdepth-train label {path} --out {folder})')
        if not self.items:
            raise DataError(f'{", ".join(paths)}: no triplets')
        self.description = f'real video {", ".join(paths)}: {len(self.items)} triplets'
        if labels:
            self.description += ', with pseudo-labels'

    def sample(self, item: int, rng: np.random.Generator) -> TripletSample:
        images, K = self.triplet(item, rng)
        key, index = self.items[item]
        folder = self.labels.get(key)
        if folder is None:
            return TripletSample(images, K)
        from rmdepth_training.label import label_path
        from rmdepth_training.pseudo_labels import label_maps, label_truth

        path = label_path(Path(folder), index)
        if not path.is_file():
            self.missing_labels += 1
            return TripletSample(images, K)
        height, width = images[1].shape[:2]
        return TripletSample(images, K, label_truth(height, width,
                                                    label_maps(str(path), (width, height))))

    def _open(self, key: object) -> Sequence:
        from rmdepth_ros.open_sequence import open_sequence

        return open_sequence(key)  # type: ignore[arg-type]


class MixedTriplets(TripletSource):
    """Endless stream: each sample from `real` with probability `fraction`, else synthetic."""

    def __init__(self, synthetic: TripletSource, real: TripletSource, fraction: float) -> None:
        self.synthetic, self.real, self.fraction = synthetic, real, fraction
        self.description = (f'{synthetic.description}; mixed with {fraction:.0%} '
                            f'{real.description}')

    def triplet(self, item: int, rng: np.random.Generator) -> Triplet:
        sample = self.sample(item, rng)
        return sample.images, sample.K

    def sample(self, item: int, rng: np.random.Generator) -> TripletSample:
        if rng.random() < self.fraction:
            return self.real.sample(int(rng.integers(self.real.length)), rng)
        return self.synthetic.sample(item, rng)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (64, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def build_source(cfg: DataConfig) -> TripletSource:
    """The triplet source for `cfg.kind`."""
    if cfg.kind == 'synthetic':
        synthetic: TripletSource = SyntheticTriplets(cfg)
        if cfg.shards and cfg.shard_fraction > 0:
            from rmdepth_training.shards import ShardTriplets

            synthetic = MixedTriplets(synthetic, ShardTriplets(cfg.shards, cfg),
                                      cfg.shard_fraction)
        if cfg.real_sequences and cfg.real_fraction > 0:
            return MixedTriplets(synthetic, RealTriplets(cfg.real_sequences, cfg.frame_step,
                                                         cfg.real_labels),
                                 cfg.real_fraction)
        return synthetic
    if cfg.kind == 'kitti':
        return KittiTriplets(cfg.root, cfg.split, cfg.frame_step)
    if cfg.kind == 'cityscapes':
        return CityscapesTriplets(cfg.root, cfg.split, cfg.frame_step)
    return BagTriplets(cfg.bags, cfg.image_topic, cfg.camera_info_topic, cfg.frame_step,
                       cfg.static_threshold)


# -- the stream ----------------------------------------------------------------------------------

class TrainStream(Dataset):
    """Map-style dataset indexed by global sample number n (see the module docstring)."""

    def __init__(self, source: TripletSource, data: DataConfig, augment_cfg: AugmentConfig,
                 seed: int, batch_size: int = 1) -> None:
        self.source = source
        self.data = data
        self.augment_cfg = augment_cfg
        self.seed = seed
        self.batch_size = batch_size  # samples of one global batch share an aspect ratio
        self._permutation: tuple[int, np.ndarray] | None = None

    def item_of(self, n: int) -> int:
        """The source item of sample n: n itself for streams, a per-epoch permutation otherwise."""
        length = self.source.length
        if length is None:
            return n
        epoch, offset = divmod(n, length)
        if self._permutation is None or self._permutation[0] != epoch:
            rng = np.random.default_rng([self.seed, _PERMUTE, epoch])
            self._permutation = (epoch, rng.permutation(length))
        return int(self._permutation[1][offset])

    def __getitem__(self, n: int) -> dict[str, torch.Tensor]:
        item = self.item_of(n)
        sample = self.source.sample(item, np.random.default_rng([self.seed, _CONTENT, n]))
        images, K, truth = sample.images, sample.K, sample.truth
        width, height = self.data.width, self.data.height
        size = batch_size_for(self.augment_cfg, (width, height), np.random.default_rng(
            [self.seed, _ASPECT, n // self.batch_size]))
        if size is not None:
            if self.source.crop_bottom > 0:  # as resize_triplet would, before the window
                rows = int(round(images[0].shape[0] * (1 - self.source.crop_bottom)))
                images = [image[:rows] for image in images]
            window = random_window((images[0].shape[1], images[0].shape[0]),
                                   size[0] / size[1], self.augment_cfg.aspect_min_scale,
                                   np.random.default_rng([self.seed, _ASPECT, n, 1]))
            on_grid = truth is not None and truth['gt_depth'].shape[-2:] == images[0].shape[:2]
            images, K, truth = crop_triplet(images, K, truth if on_grid else None, window)
            truth = None if truth is None else resize_truth(truth, size)
            width, height = size
        frames, K = resize_triplet(images, K, width, height,
                                   0.0 if size is not None else self.source.crop_bottom)
        if truth is not None and truth['gt_depth'].shape[-2:] != frames.shape[1:3] and bool(
                truth['pl_weight'].any()):
            # pseudo-labels of a real frame: resampled to the network size with the frames
            truth = resize_truth(truth, (width, height))
        if truth is None or truth['gt_depth'].shape[-2:] != frames.shape[1:3]:
            # Exact truth exists only where frames are rendered at the network size (synthetic).
            truth = no_truth(height, width)
        rng = np.random.default_rng([self.seed, _AUGMENT, n])
        plain, network, K, flipped = augment(frames, K, self.augment_cfg, rng)
        if flipped:
            truth = flip_truth(truth)
        return training_sample(plain, network, K, n, truth)


def training_sample(plain: np.ndarray, network: np.ndarray, K: np.ndarray, index: int,
                    truth: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """One sample as the batch keys (module docstring): frames (F, H, W, 3) -> (F, 3, H, W);
    truth values as at least 1-d tensors (a () 'gt_valid' becomes (1,))."""
    return {'images': torch.from_numpy(np.ascontiguousarray(plain.transpose(0, 3, 1, 2))),
            'images_aug': torch.from_numpy(np.ascontiguousarray(network.transpose(0, 3, 1, 2))),
            'K': torch.from_numpy(np.asarray(K, np.float32)),
            'index': torch.tensor(index, dtype=torch.int64),
            **{key: torch.from_numpy(np.ascontiguousarray(value))
               for key, value in truth.items()}}


class StepBatchSampler(Sampler[list[int]]):
    """Endless per-process batches of sample numbers, starting at optimiser step `start_step`."""

    def __init__(self, start_step: int, batch_size: int, rank: int, world_size: int) -> None:
        if batch_size % world_size:
            raise ValueError(f'optim.batch_size {batch_size} does not divide by the '
                             f'{world_size} processes')
        self.start_step = start_step
        self.batch_size = batch_size
        self.local = batch_size // world_size
        self.rank = rank

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            first = step * self.batch_size + self.rank * self.local
            yield list(range(first, first + self.local))
            step += 1


def build_train_loader(cfg: TrainConfig, start_step: int, rank: int = 0, world_size: int = 1
                       ) -> tuple[DataLoader, TripletSource]:
    """DataLoader yielding this process's batches from `start_step` on (see module docstring)."""
    source = build_source(cfg.data)
    stream = TrainStream(source, cfg.data, cfg.augment, cfg.seed, cfg.optim.batch_size)
    sampler = StepBatchSampler(start_step, cfg.optim.batch_size, rank, world_size)
    workers = cfg.data.num_workers
    # A private generator: creating the loader's iterator must not draw from the global RNG,
    # or a resumed run (fresh iterator, restored RNG) would diverge from an uninterrupted one.
    loader = DataLoader(stream, batch_sampler=sampler, num_workers=workers,
                        persistent_workers=False, prefetch_factor=2 if workers else None,
                        generator=torch.Generator().manual_seed(seed_of(cfg)),
                        worker_init_fn=ignore_in_worker if workers else None)
    return loader, source


def seed_of(cfg: TrainConfig) -> int:
    """Seed of the loader's own generator (worker seeds; the samples do not depend on it)."""
    return cfg.seed


def steps_per_epoch(cfg: TrainConfig, source: TripletSource) -> int:
    """Optimiser steps per epoch: the dataset length, or data.epoch_samples for streams."""
    samples = source.length if source.length is not None else cfg.data.epoch_samples
    return max(1, math.ceil(samples / cfg.optim.batch_size))


def validation_sequences(width: int, height: int, count: int, frames: int,
                         first_seed: int = VALIDATION_SEED) -> list[Sequence]:
    """Held-out synthetic sequences (seeds first_seed ... + count - 1, all < TRAIN_SEED_OFFSET)."""
    from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

    if first_seed + count > TRAIN_SEED_OFFSET:
        raise ValueError('held-out synthetic seeds must stay below TRAIN_SEED_OFFSET')
    return [SyntheticSequence(SynthConfig(width=width, height=height, frames=frames,
                                          seed=first_seed + i)) for i in range(count)]
