"""One evaluation session: feeds (ground-truth frame, prediction) pairs to the scorer, the
baselines, the output bag and the mosaic sample store. Shared by the offline and live runners.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rmdepth_ros.datasets.sequence import Frame
from rmdepth_ros.evaluation.baselines.runner import BaselineRunner
from rmdepth_ros.evaluation.output_bag import OutputBag
from rmdepth_ros.evaluation.prediction import Prediction
from rmdepth_ros.evaluation.scoring import Scorer


def sample_indices(frames: int, count: int = 4) -> set[int]:
    """Evenly spaced frame indices for the mosaic, skipping frame 0 (it has no flow)."""
    if frames <= 1:
        return {0}
    step = max((frames - 1) / count, 1.0)
    return {min(frames - 1, 1 + round(i * step)) for i in range(count)}


@dataclass
class Session:
    scorer: Scorer
    bag: OutputBag | None = None
    samples_at: set[int] = field(default_factory=set)
    samples: list[tuple[Frame, Prediction]] = field(default_factory=list)
    mode: str = 'offline'
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    baselines: BaselineRunner | None = None

    def consume(self, frame: Frame, pred: Prediction | None, stamp_ns: int) -> None:
        """Score one input frame, write it to the output bag, keep it if it is a sample."""
        self.scorer.add(frame, pred)
        if self.baselines is not None:
            self.baselines.add(frame, pred)
        if self.bag is not None:
            self.bag.add(frame, pred, stamp_ns)
        if frame.index in self.samples_at and pred is not None:
            self.samples.append((frame, pred))
