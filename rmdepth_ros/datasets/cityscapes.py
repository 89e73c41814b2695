"""Cityscapes video snippets: leftImg8bit_sequence with the per-snippet camera calibration.

Layout:
    <root>/leftImg8bit_sequence/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    <root>/camera/<split>/<city>/<city>_<seq>_<frame>_camera.json  (intrinsic fx, fy, u0, v0)
A city folder holds many 30-frame snippets (`<city>_<seq>`). Each snippet takes its intrinsics
from a camera file of the same snippet. Timestamps are frame number / 17 Hz. With several
snippets, each later snippet is shifted to start `SNIPPET_GAP` s after the previous one ends, so
time always increases and the gap (far above a frame period) marks the cut.
"""

from __future__ import annotations

import json
from pathlib import Path
import re

from rmdepth_ros.datasets.image_files import intrinsics_matrix, read_image
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence

CITYSCAPES_FPS = 17.0
SNIPPET_GAP = 1.0  # seconds between snippets
_NAME = re.compile(r'^(?P<snippet>.+_\d{6})_(?P<frame>\d{6})_leftImg8bit\.png$')


def read_camera_json(path: Path) -> tuple[float, float, float, float]:
    """fx, fy, u0, v0 (pixels) from a Cityscapes *_camera.json."""
    try:
        intrinsic = json.loads(path.read_text())['intrinsic']
        return tuple(float(intrinsic[key]) for key in ('fx', 'fy', 'u0', 'v0'))
    except OSError as err:
        raise DataError(f'{path}: cannot read: {err}') from None
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f'{path}: expected JSON with intrinsic.fx, fy, u0, v0 ({err})') from None


def default_camera_dir(folder: Path) -> Path | None:
    """<root>/camera/<split>/<city> for a <root>/leftImg8bit[_sequence]/<split>/<city> folder."""
    parts = folder.resolve().parts
    for i, part in enumerate(parts):
        if part in ('leftImg8bit_sequence', 'leftImg8bit') and len(parts) == i + 3:
            return Path(*parts[:i], 'camera', *parts[i + 1:])
    return None


class CityscapesSequence(Sequence):
    """The frames of a Cityscapes city folder, or of one snippet (`sequence='000042'`)."""

    def __init__(self, folder: str | Path, sequence: str | None = None,
                 camera_dir: str | Path | None = None) -> None:
        self.root = Path(folder)
        self.name = self.root.name if sequence is None else f'{self.root.name}_{sequence}'
        if not self.root.is_dir():
            raise DataError(f'{self.root}: not a folder')
        named = [(m.group('snippet'), int(m.group('frame')), p) for p in self.root.iterdir()
                 if (m := _NAME.match(p.name))]
        if sequence is not None:
            named = [item for item in named if item[0].endswith('_' + sequence)]
        if not named:
            which = '' if sequence is None else f' of snippet {sequence}'
            raise DataError(f'{self.root}: no *_leftImg8bit.png frames{which}')
        named.sort()
        cameras = Path(camera_dir) if camera_dir is not None else default_camera_dir(self.root)
        if cameras is None or not cameras.is_dir():
            raise DataError(f'{self.root}: camera calibration folder '
                            f'{cameras or "<root>/camera/<split>/<city>"} not found; pass '
                            'camera_dir')
        self.frames: list[tuple[Path, float, str]] = []  # (image, timestamp, snippet)
        self.intrinsics = {}
        offset, previous_end = 0.0, None
        for snippet, number, path in named:
            if snippet not in self.intrinsics:
                files = sorted(cameras.glob(f'{snippet}_*_camera.json'))
                if not files:
                    raise DataError(f'{cameras}: no {snippet}_*_camera.json for snippet '
                                    f'{snippet}')
                self.intrinsics[snippet] = intrinsics_matrix(*read_camera_json(files[0]))
                if previous_end is not None:
                    offset = previous_end + SNIPPET_GAP - number / CITYSCAPES_FPS
            stamp = offset + number / CITYSCAPES_FPS
            previous_end = stamp
            self.frames.append((path, stamp, snippet))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Frame:
        path, stamp, snippet = self.frames[index]
        index %= len(self)
        return Frame(image=read_image(path), intrinsics=self.intrinsics[snippet].copy(),
                     timestamp=stamp, index=index)
