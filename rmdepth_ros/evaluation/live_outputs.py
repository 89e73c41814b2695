"""What rmdepth_node publishes during a live evaluation: recorded, then matched to the inputs.

`OutputRecorder` subscribes (reliable) to the node's depth, flow, motion_mask and odom and keeps
each message with its receive time by header stamp; `score_recorded` pairs them with the bag's
ground-truth frames (frame i = the i-th image) and hands them to the session.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from tqdm import tqdm

from rmdepth_ros.bags.reader import BagSequence
from rmdepth_ros.evaluation.prediction import Prediction
from rmdepth_ros.evaluation.session import Session

OUTPUT_TOPICS = ('depth', 'flow', 'motion_mask', 'odom')


class OutputRecorder:
    """Subscribes to the node's outputs; keeps (message, receive wall time) by stamp (ns)."""

    def __init__(self, node, namespace: str) -> None:
        from nav_msgs.msg import Odometry
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        qos = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        self.lock = threading.Lock()
        self.received: dict[str, dict[int, tuple[object, float]]] = {
            name: {} for name in OUTPUT_TOPICS}
        self.last_time = time.monotonic()
        self.subscriptions = {
            name: node.create_subscription(Odometry if name == 'odom' else Image,
                                           f'{namespace}/{name}', self._callback(name), qos)
            for name in OUTPUT_TOPICS}

    def _callback(self, name: str):
        def store(msg) -> None:
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            with self.lock:
                self.received[name][stamp] = (msg, time.monotonic())
                self.last_time = time.monotonic()
        return store

    def answered(self, stamp: int) -> bool:
        with self.lock:
            return stamp in self.received['depth'] and stamp in self.received['odom']


def _pose(msg) -> np.ndarray:
    from rmdepth_ros.ros.conversions import quaternion_to_matrix

    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    pose = np.eye(4)
    pose[:3, :3] = quaternion_to_matrix([q.x, q.y, q.z, q.w])
    pose[:3, 3] = (p.x, p.y, p.z)
    return pose


def score_recorded(sequence: BagSequence, session: Session, recorder: OutputRecorder,
           published: list[tuple[int, float]]) -> None:
    from rmdepth_ros.ros.conversions import image_to_array

    received = recorder.received
    for index, frame in enumerate(tqdm(sequence, total=len(sequence), desc='scoring',
                                       unit='frame', disable=len(sequence) < 50)):
        stamp, sent = published[index] if index < len(published) else (None, None)
        got = {name: received[name].get(stamp) for name in OUTPUT_TOPICS}
        pred = None
        if any(got.values()):
            depth, flow, mask, odom = (got[name] for name in OUTPUT_TOPICS)
            pred = Prediction(
                index=index, stamp_ns=stamp,
                depth=None if depth is None else np.array(image_to_array(depth[0])),
                flow=None if flow is None else np.array(image_to_array(flow[0])),
                motion_mask=None if mask is None else np.array(image_to_array(mask[0])) > 0,
                pose=None if odom is None else _pose(odom[0]),
                latency_ms=None if depth is None else (depth[1] - sent) * 1000.0)
        session.consume(frame, pred, stamp if stamp is not None else 0)
    answered = sum(1 for stamp, _ in published if recorder.answered(stamp))
    if answered < len(published):
        session.notes.append(f'the node answered {answered} of {len(published)} input frames '
                             '(it drops frames it cannot keep up with; try --rate < 1 or '
                             '--lockstep)')
