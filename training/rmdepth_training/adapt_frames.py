"""A user's video as adaptation data: triplets at the network's input, static ones skipped, a
held-back slice for validation, and one clear error for sources that cannot teach anything.

Frames reach the network exactly as the estimator feeds them (`rmdepth_ros.resize`: the same
window, crop by default, and the same intrinsics rule), so adaptation trains on what inference
sees. A triplet (i - k, i, i + k) is static, and skipped, when the mean absolute difference of
64x32 gray thumbnails between the target and either source is below `static_threshold`
(intensities in [0, 1]; the rule of the bag training source). `label_clip` gives every frame
the estimator's fused depth as a pseudo-label (`pseudo_labels`), which the triplet
of that target frame carries as 'pl_depth' / 'pl_weight'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rmdepth_ros.datasets.sequence import DataError, Sequence
from rmdepth_ros.resize import input_window
from rmdepth_training.pseudo_labels import kept_label, label_truth, pseudo_maps
from rmdepth_training.triplets import Triplet, TripletSample, TripletSource

if TYPE_CHECKING:
    from rmdepth_ros.inference import Estimator

STATIC_THRESHOLD = 0.01


class SourceError(DataError):
    """A source that cannot be adapted on; the message is one line naming it and why."""


@dataclass
class UserClip:
    """The network-size frames of one source: images (N, h, w, 3) uint8, K (3, 3) of them,
    the source's frame numbers and, where the source has them, depth (N, H, W) metres at the
    source's resolution (None otherwise), the window that maps network outputs back, and the
    pseudo-labels of the frames (`label_clip`: per frame (depth, sigma) float16 and moving
    bool on the network grid, or None where the labeller gave none)."""

    name: str
    images: np.ndarray
    K: np.ndarray
    numbers: list[int]
    depth: list[np.ndarray | None]
    window: object
    labels: list[tuple | None] | None = None


def parse_range(text: str) -> tuple[int, int | None]:
    """'A:B' -> (A, B) (B exclusive), 'A:' -> (A, None); raises SourceError otherwise."""
    first, sep, last = text.partition(':')
    try:
        start = int(first) if first else 0
        stop = int(last) if last else None
    except ValueError:
        raise SourceError(f"--frames must be 'START:STOP', got '{text}'") from None
    if not sep or start < 0 or (stop is not None and stop <= start):
        raise SourceError(f"--frames must be 'START:STOP' with 0 <= START < STOP, got '{text}'")
    return start, stop


def load_clip(path: str, net_size: tuple[int, int], resize: str = 'crop',
              frames: tuple[int, int | None] = (0, None)) -> UserClip:
    """Read `path` (anything `open_sequence` reads) into a UserClip; SourceError if unusable."""
    from rmdepth_ros.open_sequence import open_sequence

    try:
        sequence: Sequence = open_sequence(path)
        count = len(sequence)
    except DataError as error:
        raise SourceError(str(error)) from None
    except (OSError, ValueError) as error:
        raise SourceError(f'{path}: unreadable ({error.__class__.__name__}: {error})') from None
    start, stop = frames[0], min(count, frames[1] if frames[1] is not None else count)
    if stop - start < 3:
        raise SourceError(f'{path}: {max(0, stop - start)} frame(s) in range; adaptation '
                          'needs at least 3 consecutive frames of a moving camera')
    images, numbers, depth = [], [], []
    window, K = None, None
    for index in range(start, stop):
        try:
            frame = sequence[index]
        except (DataError, OSError, ValueError) as error:
            raise SourceError(f'{path}: frame {index} unreadable ({error})') from None
        K_frame = np.asarray(frame.intrinsics, dtype=np.float64)
        if K_frame.shape != (3, 3) or not np.all(np.isfinite(K_frame)) or K_frame[0, 0] <= 0:
            raise SourceError(f'{path}: frame {index} has no usable intrinsics')
        size = (frame.image.shape[1], frame.image.shape[0])
        if window is None:
            window = input_window(size, net_size, resize)
            K = window.network_intrinsics(K_frame)
        elif size != window.image_size or not np.allclose(window.network_intrinsics(K_frame),
                                                          K, rtol=1e-6):
            raise SourceError(f'{path}: image size or intrinsics change at frame {index}; '
                              'adapt on one camera setting per source')
        image = window.to_network(frame.image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        images.append(image)
        numbers.append(index)
        depth.append(frame.depth)
    return UserClip(str(path), np.stack(images), K, numbers, depth, window)


def label_clip(clip: UserClip, labeller: Estimator,
               progress: Callable[[], None] | None = None) -> None:
    """Fill `clip.labels`: `labeller` (an Estimator with depth_source 'fused') runs on the
    clip's frames of its source, in order, and its fused depth of each frame, on the clip's
    network grid, becomes that frame's pseudo-label (`pseudo_labels`). progress: called once
    per frame."""
    from rmdepth_ros.inference import GeometryLabel
    from rmdepth_ros.open_sequence import open_sequence

    sequence = open_sequence(clip.name)
    labeller.reset('labelling')
    labels = []
    for index in clip.numbers:
        try:
            frame = sequence[index]
        except (DataError, OSError, ValueError) as error:
            raise SourceError(f'{clip.name}: frame {index} unreadable ({error})') from None
        out = labeller.process(frame.image, frame.intrinsics, frame.timestamp)
        label = GeometryLabel.of(out, clip.window)
        labels.append(None if label is None else kept_label(label))
        if progress is not None:
            progress()
    clip.labels = labels


def thumbnail(image: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (32, 64) float32 gray in [0, 1]."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    return cv2.resize(gray, (64, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def moving_targets(clip: UserClip, step: int = 1,
                   threshold: float = STATIC_THRESHOLD) -> tuple[list[int], int]:
    """Target indices (into the clip) of its non-static triplets, and how many were static."""
    thumbs = [thumbnail(image) for image in clip.images]
    moving, static = [], 0
    for i in range(step, len(thumbs) - step):
        change = min(float(np.abs(thumbs[i] - thumbs[i + d]).mean()) for d in (-step, step))
        if change < threshold:
            static += 1
        else:
            moving.append(i)
    return moving, static


def split_held_out(targets: list[int], fraction: float, step: int = 1
                   ) -> tuple[list[int], list[int]]:
    """(train, held-out): the last `fraction` of the targets (at least one) is held back, and
    the triplets that share a frame with it are dropped from training."""
    if len(targets) < 2:
        return targets, []
    count = max(1, int(round(len(targets) * fraction)))
    held = targets[-count:]
    first = held[0]
    train = [t for t in targets[:-count] if t + 2 * step < first]
    return train, held


class ClipTriplets(TripletSource):
    """Triplets (i - k, i, i + k) of UserClips at the network size, one item per target."""

    def __init__(self, clips: list[UserClip], targets: list[list[int]], step: int = 1) -> None:
        self.clips = clips
        self.items = [(c, t) for c, chosen in enumerate(targets) for t in chosen]
        self.step = step
        self.description = (f'{len(self.items)} triplets of '
                            + ', '.join(clip.name for clip in clips))

    @property
    def length(self) -> int:  # type: ignore[override]
        return len(self.items)

    def triplet(self, item: int, rng: np.random.Generator) -> Triplet:
        clip_index, target = self.items[item]
        clip = self.clips[clip_index]
        frames = [clip.images[target + d] for d in (-self.step, 0, self.step)]
        return frames, clip.K.copy()

    def sample(self, item: int, rng: np.random.Generator) -> TripletSample:
        """The triplet with its target frame's pseudo-label where the clip has one."""
        images, K = self.triplet(item, rng)
        clip_index, target = self.items[item]
        labels = self.clips[clip_index].labels
        if labels is None or labels[target] is None:
            return TripletSample(images, K)
        return TripletSample(images, K, label_truth(*images[1].shape[:2],
                                                    pseudo_maps(*labels[target])))


def check_moving(path: str, moving: list[int], static: int) -> None:
    """SourceError when a source has no moving triplet (a standing camera)."""
    if not moving:
        raise SourceError(f'{path}: the camera does not move (all {static} triplets static; '
                          'adaptation learns from motion)')
