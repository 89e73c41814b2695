"""The DDS set-up every ROS 2 process of this package uses (config/fastdds_localhost.xml).

A second process (test/dds_probe.py) publishes 4000x3000 rgb8 images, best effort; this process
receives them. Checked: both frames arrive (the first too), the child's sockets are all on
loopback, and no Fast DDS deprecation warning is printed.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import threading
import time

import pytest

from rmdepth_ros.evaluation.dds_env import FASTDDS_VARIABLE, FASTRTPS_VARIABLE, profile_variable

rclpy = pytest.importorskip('rclpy')

pytestmark = pytest.mark.ros

PROBE = Path(__file__).resolve().parent / 'dds_probe.py'
WIDTH, HEIGHT, FRAMES = 4000, 3000, 2
TIMEOUT = 60.0


def socket_addresses(pid: int) -> list[tuple[str, str]]:
    """(protocol, local address as in /proc/net, hex) of every IP socket of process `pid`."""
    inodes = set()
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            target = os.readlink(f'/proc/{pid}/fd/{fd}')
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[len('socket:['):-1])
    found = []
    for protocol in ('udp', 'udp6', 'tcp', 'tcp6', 'raw'):
        table = Path('/proc/net') / protocol
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                found.append((protocol, fields[1]))
    return found


def test_environment_names_the_profile_for_this_fast_dds() -> None:
    read, other = profile_variable()
    assert os.environ[read].endswith('config/fastdds_localhost.xml')
    assert other not in os.environ
    if 'ROS_DISTRO' not in os.environ:  # the venv: Kilted wheels, Fast DDS 3
        assert (read, other) == (FASTDDS_VARIABLE, FASTRTPS_VARIABLE)


@pytest.mark.skipif(not Path('/proc/net/udp').exists(), reason='needs Linux /proc')
def test_large_frames_arrive_on_loopback_without_warnings() -> None:
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    context = rclpy.Context()
    rclpy.init(context=context)
    received: list[tuple[str, int]] = []
    child = None
    try:
        node = rclpy.create_node('dds_probe_subscriber', context=context)
        qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.BEST_EFFORT)
        node.create_subscription(Image, '/dds_probe/image', lambda msg: received.append(
            (msg.header.frame_id, len(msg.data))), qos)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)

        def spin() -> None:
            try:
                executor.spin()
            except ExternalShutdownException:
                pass

        threading.Thread(target=spin, daemon=True).start()
        child = subprocess.Popen(
            [sys.executable, str(PROBE), '--frames', str(FRAMES), '--width', str(WIDTH),
             '--height', str(HEIGHT)], env=dict(os.environ), text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout.readline().strip() == 'ready'
        deadline = time.monotonic() + TIMEOUT
        while len(received) < FRAMES and time.monotonic() < deadline:
            time.sleep(0.05)
        sockets = socket_addresses(child.pid)
        output, errors = child.communicate(input='', timeout=TIMEOUT)  # (closes its stdin)
        executor.shutdown()
        node.destroy_node()
    finally:
        if child is not None and child.poll() is None:
            child.kill()
        rclpy.shutdown(context=context)
    assert child.returncode == 0, errors
    assert [frame for frame, _ in received] == [str(i) for i in range(FRAMES)], (received,
                                                                                 output)
    assert all(size == WIDTH * HEIGHT * 3 for _, size in received)
    # every IP socket of the participant is bound to 127.0.0.1 (0100007F), none to any address
    assert sockets and all(protocol == 'udp' and address.startswith('0100007F:')
                           for protocol, address in sockets), sockets
    assert 'deprecated' not in errors and 'FASTRTPS' not in errors, errors
    assert 'Error' not in errors, errors
