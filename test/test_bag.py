"""ROS 2 bag round trips (mcap and sqlite3), topic auto-detection and reader errors."""

from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.interfaces import QosDurability
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from rmdepth_ros.bags.layout import (
    R_BODY_OPTICAL,
    seconds_to_ns,
    static_transform,
    typestore,
)
from rmdepth_ros.bags.reader import BagSequence
from rmdepth_ros.bags.writer import SYNTHETIC_START, write_bag
from rmdepth_ros.datasets.rotations import quaternion_to_rotation, rotation_to_quaternion
from rmdepth_ros.datasets.sequence import DataError, Frame

K = np.array([[50.0, 0.0, 15.5], [0.0, 52.0, 9.5], [0.0, 0.0, 1.0]])
H, W = 20, 32


def _frames(n: int = 4, gray: bool = False, seed: int = 0) -> list[Frame]:
    """Random frames: sky rows at +inf, flow invalid where `valid` is False, frame 0 no flow."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        shape = (H, W) if gray else (H, W, 3)
        depth = rng.uniform(0.5, 80.0, (H, W)).astype(np.float32)
        depth[:3] = np.inf
        valid = rng.random((H, W)) > 0.25
        rotation = cv2.Rodrigues(np.array([0.01 * i, 0.05 * i, -0.02 * i]))[0]
        pose = np.eye(4)
        pose[:3, :3] = rotation
        pose[:3, 3] = [0.3 * i, -0.1 * i, 1.7 * i]
        frames.append(Frame(
            image=rng.integers(0, 256, shape, dtype=np.uint8), intrinsics=K.copy(),
            timestamp=100.0 + i / 7.0, depth=depth, pose=pose,
            flow=rng.normal(0, 3, (H, W, 2)).astype(np.float32) if i else None,
            flow_valid=valid if i else None, motion_mask=rng.random((H, W)) > 0.8, index=i))
    return frames


def _header(stamp_ns: int, frame_id: str = 'cam') -> object:
    types = typestore().types
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    return types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec), frame_id=frame_id)


def _camera_info(stamp_ns: int) -> object:
    types = typestore().types
    roi = types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types['sensor_msgs/msg/CameraInfo'](
        header=_header(stamp_ns), height=H, width=W, distortion_model='plumb_bob',
        d=np.zeros(5), k=K.ravel().copy(), r=np.eye(3).ravel(),
        p=np.hstack([K, np.zeros((3, 1))]).ravel(), binning_x=0, binning_y=0, roi=roi)


def _raw_image(stamp_ns: int, array: np.ndarray, encoding: str) -> object:
    return typestore().types['sensor_msgs/msg/Image'](
        header=_header(stamp_ns), height=array.shape[0], width=array.shape[1],
        encoding=encoding, is_bigendian=0, step=array.strides[0],
        data=np.ascontiguousarray(array).view(np.uint8).reshape(-1))


def _write_custom(path: Path, messages: list[tuple[str, str, int, object]]) -> Path:
    """A hand-made bag: (topic, msgtype, stamp ns, message) in time order."""
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {}
        for topic, msgtype, stamp, message in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=typestore())
            writer.write(connections[topic], stamp,
                         typestore().serialize_cdr(message, msgtype))
    return path


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_round_trip_is_exact(tmp_path: Path, storage: str) -> None:
    frames = _frames()
    path = write_bag(frames, tmp_path / 'bag', storage=storage, camera_height=1.25)
    with BagSequence(path) as seq:
        assert len(seq) == len(frames)
        read = list(seq)
        random_access = seq[2]
    for got, want in zip(read, frames, strict=True):
        assert seconds_to_ns(got.timestamp) == seconds_to_ns(want.timestamp)
        assert got.timestamp == pytest.approx(want.timestamp, abs=1e-9)
        np.testing.assert_array_equal(got.image, want.image)
        np.testing.assert_array_equal(got.intrinsics, want.intrinsics)
        np.testing.assert_array_equal(got.depth, want.depth)  # +inf sky survives
        assert np.isposinf(got.depth[:3]).all()
        np.testing.assert_array_equal(got.motion_mask, want.motion_mask)
        if want.flow is None:
            assert got.flow is None and got.flow_valid is None
        else:
            np.testing.assert_array_equal(got.flow_valid, want.flow_valid)
            np.testing.assert_array_equal(got.flow[want.flow_valid], want.flow[want.flow_valid])
            assert np.isnan(got.flow[~want.flow_valid]).all()
        # poses come back in the odom frame: relative motion is preserved
        relative_got = np.linalg.inv(read[0].pose) @ got.pose
        relative_want = np.linalg.inv(frames[0].pose) @ want.pose
        np.testing.assert_allclose(relative_got, relative_want, atol=1e-9)
    # frame 0's camera sits at the mount: 1.25 m above the odom origin, looking along +x
    np.testing.assert_allclose(read[0].pose[:3, 3], [0.0, 0.0, 1.25], atol=1e-12)
    np.testing.assert_allclose(read[0].pose[:3, :3], R_BODY_OPTICAL, atol=1e-12)
    np.testing.assert_array_equal(random_access.image, frames[2].image)
    np.testing.assert_array_equal(random_access.flow_valid, frames[2].flow_valid)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_bag_metadata_qos_and_static_transform(tmp_path: Path, storage: str) -> None:
    path = write_bag(_frames(2), tmp_path / 'bag', storage=storage, camera_height=1.5,
                     frame_id='cam_opt', base_frame='base', odom_frame='odom_gt')
    with Reader(path) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert set(conns) == {'/camera/image_raw', '/camera/camera_info', '/ground_truth/depth',
                              '/ground_truth/flow', '/ground_truth/motion_mask',
                              '/ground_truth/odom', '/tf_static'}
        assert all(c.msgdef.data for c in conns.values())  # real definitions travel along
        tf_qos = conns['/tf_static'].ext.offered_qos_profiles
        assert tf_qos[0].durability == QosDurability.TRANSIENT_LOCAL
        assert conns['/camera/image_raw'].ext.offered_qos_profiles[0].durability == \
            QosDurability.VOLATILE
        assert conns['/ground_truth/flow'].msgcount == 1  # frame 0 has no flow
        decoded = {}
        for conn, log_ns, raw in reader.messages():
            decoded.setdefault(conn.topic, []).append(
                (log_ns, typestore().deserialize_cdr(raw, conn.msgtype)))
    (stamp, tf_msg), = decoded['/tf_static']
    tf = tf_msg.transforms[0]
    assert (tf.header.frame_id, tf.child_frame_id) == ('base', 'cam_opt')
    assert (tf.transform.translation.x, tf.transform.translation.z) == (0.0, 1.5)
    q = tf.transform.rotation
    np.testing.assert_allclose([q.x, q.y, q.z, q.w], [-0.5, 0.5, -0.5, 0.5], atol=1e-12)
    log_ns, image = decoded['/camera/image_raw'][1]
    assert image.encoding == 'rgb8' and image.header.frame_id == 'cam_opt'
    assert log_ns == image.header.stamp.sec * 10**9 + image.header.stamp.nanosec
    assert log_ns == seconds_to_ns(100.0 + 1 / 7.0)
    assert decoded['/ground_truth/depth'][0][1].encoding == '32FC1'
    assert decoded['/ground_truth/flow'][0][1].encoding == '32FC2'
    assert decoded['/ground_truth/motion_mask'][0][1].encoding == 'mono8'
    odom = decoded['/ground_truth/odom'][0][1]
    assert (odom.header.frame_id, odom.child_frame_id) == ('odom_gt', 'base')
    assert odom.pose.pose.orientation.w == 1.0  # odom starts at the first base pose


def test_odometry_twist_and_fps_retiming(tmp_path: Path) -> None:
    frames = _frames(3)
    for i, frame in enumerate(frames):  # camera drives 0.5 m per frame along optical z
        frame.pose = np.eye(4)
        frame.pose[2, 3] = 0.5 * i
    path = write_bag(frames, tmp_path / 'bag', fps=20.0)
    with Reader(path) as reader:
        odoms = [typestore().deserialize_cdr(raw, conn.msgtype)
                 for conn, _, raw in reader.messages()
                 if conn.topic == '/ground_truth/odom']
    assert odoms[2].pose.pose.position.x == pytest.approx(1.0)  # base x = optical z
    assert odoms[2].twist.twist.linear.x == pytest.approx(10.0)  # 0.5 m in 1/20 s
    seq = BagSequence(path)
    assert [seconds_to_ns(f.timestamp) for f in seq] == [
        seconds_to_ns(100.0) + i * 50_000_000 for i in range(3)]


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_start_time_shifts_every_stamp(tmp_path: Path, storage: str) -> None:
    frames = _frames(3)
    path = write_bag(frames, tmp_path / 'bag', storage=storage, start_time=SYNTHETIC_START)
    start = seconds_to_ns(SYNTHETIC_START)
    assert SYNTHETIC_START == datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    expected = [start + seconds_to_ns(f.timestamp) - seconds_to_ns(100.0) for f in frames]
    assert [f.timestamp for f in BagSequence(path)] == pytest.approx(
        np.array(expected) * 1e-9, rel=0, abs=1e-6)
    with Reader(path) as reader:
        assert reader.start_time == start  # metadata starting_time
        stamps = {conn.topic: [] for conn in reader.connections}
        for conn, log_ns, raw in reader.messages():
            stamp = typestore().deserialize_cdr(raw, conn.msgtype)
            header = stamp.transforms[0].header if conn.topic == '/tf_static' else stamp.header
            stamps[conn.topic].append((log_ns, header.stamp.sec * 10**9 + header.stamp.nanosec))
    assert stamps['/camera/image_raw'] == [(t, t) for t in expected]
    assert stamps['/tf_static'] == [(start, start)]
    with pytest.raises(ValueError, match='start_time'):
        write_bag(frames, tmp_path / 'negative', start_time=-1.0)


def test_mcap_channels_carry_the_type_hash(tmp_path: Path) -> None:
    """rosbag2's MCAP reader takes each topic's type hash from the channel's metadata."""
    path = write_bag(_frames(2), tmp_path / 'bag')
    data = next(path.glob('*.mcap')).read_bytes()

    def entry(key: str, value: str) -> bytes:  # an MCAP string pair: uint32 length + bytes
        return b''.join(len(s).to_bytes(4, 'little') + s.encode() for s in (key, value))

    with Reader(path) as reader:
        connections = reader.connections
    for conn in connections:
        digest = typestore().hash_rihs01(conn.msgtype)
        assert digest.startswith('RIHS01_') and conn.digest == digest
        assert entry('topic_type_hash', digest) in data, conn.topic


def test_gray_frames_and_single_file_open(tmp_path: Path) -> None:
    frames = _frames(2, gray=True)
    for frame in frames:
        frame.depth = frame.flow = frame.flow_valid = frame.motion_mask = frame.pose = None
    for storage, suffix in (('mcap', '.mcap'), ('sqlite3', '.db3')):
        folder = write_bag(frames, tmp_path / storage, storage=storage)
        seq = BagSequence(folder / (storage + suffix))  # the storage file alone
        got = seq[-1]
        assert got.image.shape == (H, W)
        np.testing.assert_array_equal(got.image, frames[1].image)
        assert got.depth is None and got.pose is None and got.flow is None
        assert seq.topics.depth is None and seq.topics.odom is None


def test_write_refuses_existing_path(tmp_path: Path) -> None:
    target = tmp_path / 'bag'
    target.mkdir()
    (target / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        write_bag(_frames(1), target)
    assert (target / 'keep.txt').read_text() == 'mine'
    with pytest.raises(ValueError, match='storage'):
        write_bag(_frames(1), tmp_path / 'other', storage='rosbag1')


def test_write_removes_half_written_bag_on_bad_frame(tmp_path: Path) -> None:
    frames = _frames(2)
    frames[1].image = frames[1].image.astype(np.float32)
    with pytest.raises(DataError, match='frame 1: image must be uint8'):
        write_bag(frames, tmp_path / 'bag')
    assert not (tmp_path / 'bag').exists()


def test_compressed_image_bag(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(2)]
    types = typestore().types
    messages = [('/cam/camera_info', 'sensor_msgs/msg/CameraInfo', 10, _camera_info(10))]
    for i, image in enumerate(images):
        ok, png = cv2.imencode('.png', cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        assert ok
        msg = types['sensor_msgs/msg/CompressedImage'](
            header=_header(20 + i), format='png', data=png.reshape(-1))
        messages.append(('/cam/image/compressed', 'sensor_msgs/msg/CompressedImage', 20 + i,
                         msg))
    seq = BagSequence(_write_custom(tmp_path / 'bag', messages))
    assert seq.topics.image == '/cam/image/compressed'
    assert seq.topics.image_type == 'sensor_msgs/msg/CompressedImage'
    for got, want in zip(seq, images, strict=True):
        np.testing.assert_array_equal(got.image, want)  # png is lossless
        np.testing.assert_array_equal(got.intrinsics, K)
    assert seq[1].timestamp == pytest.approx(21e-9)


def test_camera_info_pairing_uses_latest_earlier_stamp(tmp_path: Path) -> None:
    image = np.zeros((H, W, 3), np.uint8)
    info_late = _camera_info(25)
    info_late.k = (K * [[2], [2], [1]]).ravel()
    messages = [
        ('/c/image_raw', 'sensor_msgs/msg/Image', 5, _raw_image(5, image, 'rgb8')),
        ('/c/camera_info', 'sensor_msgs/msg/CameraInfo', 10, _camera_info(10)),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 20, _raw_image(20, image, 'rgb8')),
        ('/c/camera_info', 'sensor_msgs/msg/CameraInfo', 25, info_late),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 30, _raw_image(30, image, 'rgb8')),
    ]
    seq = BagSequence(_write_custom(tmp_path / 'bag', messages))
    fx = [frame.intrinsics[0, 0] for frame in seq]
    assert fx == [50.0, 50.0, 100.0]  # before any info: the first one


def test_ground_truth_pairs_by_header_stamp_not_receive_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    depths = [rng.uniform(1, 9, (H, W)).astype(np.float32) for _ in range(2)]
    image = np.zeros((H, W, 3), np.uint8)
    depth_msgs = [_raw_image(stamp, d, '32FC1') for stamp, d in zip((100, 200), depths,
                                                                        strict=True)]
    path = _write_custom(tmp_path / 'bag', [  # depth arrives late: received after the next image
        ('/c/camera_info', 'sensor_msgs/msg/CameraInfo', 1, _camera_info(1)),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 100, _raw_image(100, image, 'rgb8')),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 200, _raw_image(200, image, 'rgb8')),
        ('/ground_truth/depth', 'sensor_msgs/msg/Image', 250, depth_msgs[0]),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 300, _raw_image(300, image, 'rgb8')),
        ('/ground_truth/depth', 'sensor_msgs/msg/Image', 350, depth_msgs[1]),
    ])
    seq = BagSequence(path)
    for frames in (list(seq), [seq[i] for i in range(3)]):
        np.testing.assert_array_equal(frames[0].depth, depths[0])
        np.testing.assert_array_equal(frames[1].depth, depths[1])
        assert frames[2].depth is None


def test_topic_detection_errors(tmp_path: Path) -> None:
    image = np.zeros((H, W, 3), np.uint8)
    messages = [
        ('/left/image_raw', 'sensor_msgs/msg/Image', 1, _raw_image(1, image, 'rgb8')),
        ('/right/image_raw', 'sensor_msgs/msg/Image', 1, _raw_image(1, image, 'rgb8')),
        ('/left/camera_info', 'sensor_msgs/msg/CameraInfo', 1, _camera_info(1)),
        ('/right/camera_info', 'sensor_msgs/msg/CameraInfo', 1, _camera_info(1)),
    ]
    path = _write_custom(tmp_path / 'bag', messages)
    with pytest.raises(DataError, match='several image topics: /left/image_raw, '
                                        '/right/image_raw; choose one with image_topic'):
        BagSequence(path)
    with pytest.raises(DataError, match="topic '/x' not in bag; image topics: "
                                        '/left/image_raw, /right/image_raw'):
        BagSequence(path, image_topic='/x')
    with pytest.raises(DataError, match="topic '/x' not in bag; depth topics: /left/image_raw"):
        BagSequence(path, image_topic='/right/image_raw', depth_topic='/x')
    seq = BagSequence(path, image_topic='/right/image_raw')
    assert seq.topics.camera_info == '/right/camera_info'  # same namespace wins
    with pytest.raises(DataError, match="'/left/camera_info' is sensor_msgs/msg/CameraInfo, "
                                        'expected sensor_msgs/msg/Image'):
        BagSequence(path, image_topic='/left/camera_info')
    with pytest.raises(DataError, match='no such bag'):
        BagSequence(tmp_path / 'missing')


def test_no_image_topic_and_missing_camera_info(tmp_path: Path) -> None:
    info_only = _write_custom(tmp_path / 'a', [
        ('/c/camera_info', 'sensor_msgs/msg/CameraInfo', 1, _camera_info(1))])
    with pytest.raises(DataError, match=r'no image topic .* topics in bag: /c/camera_info'):
        BagSequence(info_only)
    image = np.full((H, W), 7, np.uint8)
    no_info = _write_custom(tmp_path / 'b', [
        ('/c/image', 'sensor_msgs/msg/Image', 1, _raw_image(1, image, 'mono8'))])
    with pytest.raises(DataError, match='no camera_info .* no fallback_intrinsics'):
        BagSequence(no_info)
    seq = BagSequence(no_info, fallback_intrinsics=[40.0, 41.0, 15.5, 9.5])
    np.testing.assert_array_equal(seq[0].intrinsics,
                                  [[40.0, 0, 15.5], [0, 41.0, 9.5], [0, 0, 1]])
    assert seq[0].image.shape == (H, W)


def test_unknown_encoding_names_topic_and_message(tmp_path: Path) -> None:
    ok = np.zeros((H, W, 3), np.uint8)
    yuv = np.zeros((H, W, 2), np.uint8)
    path = _write_custom(tmp_path / 'bag', [
        ('/c/camera_info', 'sensor_msgs/msg/CameraInfo', 1, _camera_info(1)),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 2, _raw_image(2, ok, 'rgb8')),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 3, _raw_image(3, yuv, 'yuv422')),
    ])
    seq = BagSequence(path)
    assert seq[0].image.shape == (H, W, 3)
    with pytest.raises(DataError, match=r"topic '/c/image_raw' message 1: .*yuv422"):
        seq[1]
    with pytest.raises(DataError, match='message 1'):
        list(seq)
    with pytest.raises(IndexError):
        seq[2]


def test_odometry_without_mount_is_an_error(tmp_path: Path) -> None:
    types = typestore().types
    image = np.zeros((H, W, 3), np.uint8)
    odom = types['nav_msgs/msg/Odometry'](
        header=_header(1, 'odom'), child_frame_id='base_link',
        pose=types['geometry_msgs/msg/PoseWithCovariance'](
            pose=types['geometry_msgs/msg/Pose'](
                position=types['geometry_msgs/msg/Point'](x=1.0, y=2.0, z=3.0),
                orientation=types['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.zeros(36)),
        twist=types['geometry_msgs/msg/TwistWithCovariance'](
            twist=types['geometry_msgs/msg/Twist'](
                linear=types['geometry_msgs/msg/Vector3'](x=0.0, y=0.0, z=0.0),
                angular=types['geometry_msgs/msg/Vector3'](x=0.0, y=0.0, z=0.0)),
            covariance=np.zeros(36)))
    path = _write_custom(tmp_path / 'bag', [
        ('/c/camera_info', 'sensor_msgs/msg/CameraInfo', 1, _camera_info(1)),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 1, _raw_image(1, image, 'rgb8')),
        ('/ground_truth/odom', 'nav_msgs/msg/Odometry', 1, odom),
    ])
    with pytest.raises(DataError, match="frame 'base_link'.*camera frame 'cam'"):
        BagSequence(path)
    assert BagSequence(path, odom_topic='')[0].pose is None
    odom.child_frame_id = 'cam'  # odometry of the camera itself: no mount needed
    path = _write_custom(tmp_path / 'bag2', [
        ('/c/camera_info', 'sensor_msgs/msg/CameraInfo', 1, _camera_info(1)),
        ('/c/image_raw', 'sensor_msgs/msg/Image', 1, _raw_image(1, image, 'rgb8')),
        ('/ground_truth/odom', 'nav_msgs/msg/Odometry', 1, odom),
    ])
    np.testing.assert_allclose(BagSequence(path)[0].pose[:3, 3], [1.0, 2.0, 3.0])


def test_static_transform_chain() -> None:
    types = typestore().types

    def stamped(parent: str, child: str, xyz: list[float], quat: list[float]) -> object:
        return types['geometry_msgs/msg/TransformStamped'](
            header=_header(0, parent), child_frame_id=child,
            transform=types['geometry_msgs/msg/Transform'](
                translation=types['geometry_msgs/msg/Vector3'](x=xyz[0], y=xyz[1], z=xyz[2]),
                rotation=types['geometry_msgs/msg/Quaternion'](
                    x=quat[0], y=quat[1], z=quat[2], w=quat[3])))

    s = np.sqrt(0.5)
    statics = [stamped('base_link', 'mount', [1.0, 0.0, 2.0], [0, 0, s, s]),  # yaw 90 deg
               stamped('mount', 'cam', [0.5, 0.0, 0.0], [0, 0, 0, 1]),
               stamped('base_link', 'wheel', [0.0, 1.0, 0.0], [0, 0, 0, 1])]
    base_cam = static_transform(statics, 'base_link', 'cam')
    np.testing.assert_allclose(base_cam[:3, 3], [1.0, 0.5, 2.0], atol=1e-12)
    wheel_cam = static_transform(statics, '/wheel', 'cam')
    np.testing.assert_allclose(wheel_cam[:3, 3], [1.0, -0.5, 2.0], atol=1e-12)
    assert static_transform(statics, 'base_link', 'unknown_frame') is None


def test_quaternion_helpers_round_trip() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        rotation = cv2.Rodrigues(rng.normal(size=3) * 2.0)[0]
        np.testing.assert_allclose(quaternion_to_rotation(rotation_to_quaternion(rotation)),
                                   rotation, atol=1e-12)
