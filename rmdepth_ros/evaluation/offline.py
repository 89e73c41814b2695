"""Offline evaluation: every frame of a sequence through an estimator, in order, in-process.

Deterministic and as fast as the estimator allows; no ROS graph involved.
"""

from __future__ import annotations

import time

from tqdm import tqdm

from rmdepth_ros.bags.layout import seconds_to_ns
from rmdepth_ros.datasets.sequence import Sequence
from rmdepth_ros.evaluation.prediction import (
    EstimatorLike,
    PoseIntegrator,
    prediction_from_output,
)
from rmdepth_ros.evaluation.session import Session


def run_offline(sequence: Sequence, estimator: EstimatorLike, session: Session,
                progress: bool = True) -> Session:
    """Run `estimator` on every frame of `sequence` and hand each result to `session`.

    The trajectory is the chain of the estimator's T_prev_cur motions from the first frame.
    Frame stamps come from the sequence's timestamps (for BagSequence: the image header stamps).
    """
    integrator = PoseIntegrator()
    # beside another motion source, the network's own motion is scored too
    network = None if getattr(estimator, 'motion_source', 'network') == 'network' \
        else PoseIntegrator()
    stamps = getattr(sequence, 'stamps_ns', None)  # exact ns stamps of a BagSequence
    start = time.perf_counter()
    for i, frame in enumerate(tqdm(sequence, total=len(sequence), desc='offline', unit='frame',
                                   disable=not progress)):
        output = estimator.process(frame.image, frame.intrinsics, frame.timestamp)
        stamp = stamps[i] if stamps is not None else seconds_to_ns(frame.timestamp)
        session.consume(frame, prediction_from_output(i, stamp, output, integrator, network),
                        stamp)
    session.wall_s = time.perf_counter() - start
    session.mode = 'offline'
    return session
