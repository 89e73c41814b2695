"""Ground-truth camera poses from a bag's /tf (e.g. a motion-capture or SLAM `map -> base_link`).

`--gt-tf PARENT:CHILD` names one dynamic TF edge; the camera pose of image i is that edge's
transform nearest in time to the image stamp (within `tolerance_s`) times the static
CHILD -> camera transform from /tf_static (identity when CHILD is the camera frame). The world
frame is PARENT; camera-to-world 4x4, as `Frame.pose` everywhere.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rmdepth_ros.bags.layout import TF_STATIC_TOPIC, TF_TYPE, static_transform, typestore
from rmdepth_ros.bags.reader import open_bag_reader
from rmdepth_ros.datasets.rotations import quaternion_to_rotation, transform_matrix
from rmdepth_ros.datasets.sequence import DataError, Frame, Sequence

TF_TOPIC = '/tf'


def _matrix(tf) -> np.ndarray:
    q, v = tf.transform.rotation, tf.transform.translation
    return transform_matrix(quaternion_to_rotation([q.x, q.y, q.z, q.w]), [v.x, v.y, v.z])


def tf_camera_poses(bag: Path, edge: str, image_topic: str, stamps_ns: list[int],
                    tolerance_s: float = 0.02) -> list[np.ndarray | None]:
    """Camera-to-PARENT poses at `stamps_ns` from the TF edge 'PARENT:CHILD' (module doc).

    The camera frame is the frame_id of the first message on `image_topic`.
    """
    parent, _, child = edge.partition(':')
    if not parent or not child:
        raise DataError(f"--gt-tf must be 'PARENT:CHILD', got {edge!r}")
    parent, child = parent.lstrip('/'), child.lstrip('/')
    reader = open_bag_reader(Path(bag))
    samples: list[tuple[int, np.ndarray]] = []
    statics = []
    try:
        image_conns = [c for c in reader.connections if c.topic == image_topic]
        first = next(iter(reader.messages(image_conns)), None)
        if first is None:
            raise DataError(f"{bag}: no messages on '{image_topic}'")
        camera_frame = typestore().deserialize_cdr(first[2], first[0].msgtype).header.frame_id
        conns = [c for c in reader.connections if c.topic in (TF_TOPIC, TF_STATIC_TOPIC)
                 and c.msgtype == TF_TYPE]
        for conn, _, raw in reader.messages(conns):
            transforms = typestore().deserialize_cdr(raw, TF_TYPE).transforms
            if conn.topic == TF_STATIC_TOPIC:
                statics.extend(transforms)
                continue
            for tf in transforms:
                if (tf.header.frame_id.lstrip('/'), tf.child_frame_id.lstrip('/')) == (parent,
                                                                                        child):
                    stamp = tf.header.stamp.sec * 1_000_000_000 + tf.header.stamp.nanosec
                    samples.append((stamp, _matrix(tf)))
    finally:
        reader.close()
    if not samples:
        raise DataError(f'{bag}: no {parent} -> {child} transforms on {TF_TOPIC}')
    child_camera = np.eye(4) if child == camera_frame.lstrip('/') else static_transform(
        statics, child, camera_frame)
    if child_camera is None:
        raise DataError(f"{bag}: /tf_static has no transform from '{child}' to the camera frame "
                        f"'{camera_frame}'")
    samples.sort(key=lambda item: item[0])
    times = [t for t, _ in samples]
    poses: list[np.ndarray | None] = []
    for stamp in stamps_ns:
        i = bisect.bisect_left(times, stamp)
        near = min((j for j in (i - 1, i) if 0 <= j < len(times)),
                   key=lambda j: abs(times[j] - stamp))
        close = abs(times[near] - stamp) <= tolerance_s * 1e9
        poses.append(samples[near][1] @ child_camera if close else None)
    return poses


class PosedSequence(Sequence):
    """`sequence` with each frame's pose replaced by `poses[i]`; other attributes pass through."""

    def __init__(self, sequence: Sequence, poses: list[np.ndarray | None]) -> None:
        self.inner, self.poses = sequence, poses
        self.name = sequence.name

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> Frame:
        frame = self.inner[index]
        frame.pose = self.poses[index % len(self)]
        return frame

    def __iter__(self) -> Iterator[Frame]:
        for i, frame in enumerate(self.inner):
            frame.pose = self.poses[i]
            yield frame
