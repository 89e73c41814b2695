"""What the scorecard runs: real sequences from `../shared/data` and held-out synthetic seeds.

Each `ScoreSet` opens its sequences lazily; `available_sets` returns the sets that can run and,
for the others, the reason in words (data absent, reader missing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
import warnings

from rmdepth_ros.datasets.sequence import Frame, Sequence

#: Held-out synthetic seeds (the training package's EVALUATION_SEED; never trained on).
SYNTHETIC_SEED = 2000
SYNTHETIC_STATIC_SEED = 2900  # same world without moving objects: nothing should be marked
SYNTHETIC_SIZE = (640, 192)
DEFAULT_DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data'


@dataclass
class ScoreSet:
    """key: short name; title: the table's label; open: () -> sequences; camera_height: metres
    (the flat-ground baseline); max_depth: the depth cap, metres; per_frame: the frames are
    not a video (the estimator is reset before each)."""

    key: str
    title: str
    open: Callable[[], list[Sequence]]
    camera_height: float = 1.65
    max_depth: float = 80.0
    per_frame: bool = False


class FirstFrames(Sequence):
    """The first `count` frames of a sequence (all of them when count is None)."""

    def __init__(self, sequence: Sequence, count: int | None) -> None:
        self.sequence = sequence
        self.name = getattr(sequence, 'name', 'sequence')
        self.count = len(sequence) if count is None else min(count, len(sequence))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Frame:
        if not -self.count <= index < self.count:
            raise IndexError(index)
        return self.sequence[index % self.count]


class QuietSynthetic(Sequence):
    """A synthetic sequence whose renderer's harmless NaN warnings (sky rays) are silenced."""

    def __init__(self, sequence: Sequence) -> None:
        self.sequence, self.name = sequence, sequence.name

    def __len__(self) -> int:
        return len(self.sequence)

    def __getitem__(self, index: int) -> Frame:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            return self.sequence[index]


def _kitti(folder: Path, frames: int | None) -> Callable[[], list[Sequence]]:
    def open_() -> list[Sequence]:
        from rmdepth_ros.datasets.kitti import KittiOdometrySequence

        return [FirstFrames(KittiOdometrySequence(folder), frames)]
    return open_


def _synthetic(seeds: list[int], frames: int, static: bool = False, **world: Any
               ) -> Callable[[], list[Sequence]]:
    def open_() -> list[Sequence]:
        from rmdepth_ros.synth.sequence import SynthConfig, SyntheticSequence

        movers = {'moving_cars_per_100m': 0.0, 'pedestrians_per_100m': 0.0} if static else {}
        width, height = SYNTHETIC_SIZE
        return [QuietSynthetic(SyntheticSequence(SynthConfig(
            width=width, height=height, frames=frames, seed=seed, **movers, **world)))
            for seed in seeds]
    return open_


#: Held-out worlds that break naive geometry: (key, title, world settings). Traffic ahead in
#: the camera's lanes slides along the epipolar lines; a camera that stops has no parallax; a
#: camera that turns in place has no translation to triangulate with.
HARD_WORLDS = (
    ('synthetic_traffic', 'dense traffic (12 cars per 100 m per lane)',
     {'moving_cars_per_100m': 12.0}),
    ('synthetic_stop_go', 'stop-and-go camera', {'motion': 'stop_go'}),
    ('synthetic_turn', 'camera turning on the spot', {'motion': 'turn'}),
)


def _kitti_stereo(folder: Path, frames: int | None) -> Callable[[], list[Sequence]]:
    def open_() -> list[Sequence]:
        from rmdepth_ros.datasets.kitti_stereo import KittiStereoSequence

        # Camera motion on these frames is scored by the KITTI 00 set already.
        return [FirstFrames(KittiStereoSequence(folder, poses=False), frames)]
    return open_


def _ddad(folder: Path, frames: int | None) -> Callable[[], list[Sequence]]:
    def open_() -> list[Sequence]:
        from rmdepth_ros.datasets.depth_folder import DepthFolderSequence

        return [FirstFrames(DepthFolderSequence(folder, body_mask='auto'), frames)]
    return open_


def available_sets(data: Path, frames: int | None, seeds: int, synthetic_frames: int
                   ) -> tuple[list[ScoreSet], dict[str, str]]:
    """(sets that can run, {key: why not}) for data root `data`.

    frames: at most this many frames of each real sequence (None = all); seeds / synthetic_frames:
    how many held-out synthetic sequences of how many frames.
    """
    sets, skipped = [], {}
    real = [('kitti_00', 'KITTI odometry 00 (validation)', 'kitti_odometry_00'),
            ('kitti_06', 'KITTI odometry 06 (training sequence)', 'kitti_odometry_06'),
            ('kitti_07', 'KITTI odometry 07 (training sequence)', 'kitti_odometry_07')]
    if not data.is_dir():
        skipped['real data'] = f'{data} is absent: only the synthetic part is scored'
    else:
        for key, title, name in real:
            if (data / name).is_dir():
                sets.append(ScoreSet(key, title, _kitti(data / name, frames)))
            else:
                skipped[key] = f'{data / name} is absent'
        stereo = data / 'kitti_odometry_00' / 'depth_stereo'
        if stereo.is_dir():
            count = len(list(stereo.glob('*.png')))
            count = count if frames is None else min(frames, count)
            sets.append(ScoreSet('kitti_00_stereo', f'KITTI 00 stereo (frames 0-{count - 1})',
                                 _kitti_stereo(stereo.parent, frames)))
        else:
            skipped['kitti_00_stereo'] = f'{stereo} is absent'
        if (data / 'ddad_sample').is_dir():
            sets.append(ScoreSet('ddad', 'DDAD sample (LiDAR depth, ego body masked, cap 200 m)',
                                 _ddad(data / 'ddad_sample', frames), camera_height=1.5,
                                 max_depth=200.0, per_frame=True))
        else:
            skipped['ddad'] = f"{data / 'ddad_sample'} is absent"
    sets.append(ScoreSet('synthetic', f'synthetic, held-out seeds {SYNTHETIC_SEED}-'
                         f'{SYNTHETIC_SEED + seeds - 1} ({seeds} x {synthetic_frames} frames)',
                         _synthetic(list(range(SYNTHETIC_SEED, SYNTHETIC_SEED + seeds)),
                                    synthetic_frames)))
    sets.append(ScoreSet('synthetic_static', f'synthetic, nothing moving (seed '
                         f'{SYNTHETIC_STATIC_SEED}, {synthetic_frames} frames)',
                         _synthetic([SYNTHETIC_STATIC_SEED], synthetic_frames, static=True)))
    for key, title, world in HARD_WORLDS:
        sets.append(ScoreSet(key, f'synthetic, {title} (seed {SYNTHETIC_SEED}, '
                             f'{synthetic_frames} frames)',
                             _synthetic([SYNTHETIC_SEED], synthetic_frames, **world)))
    return sets, skipped
