"""Message-level tests of rmdepth_ros.ros.conversions: messages built by hand, converted, compared.

Uses the real message classes (they import without rclpy.init) and small duck-typed messages
whose ``data`` is a numpy array, as the pure-Python rosbags reader produces.
"""

from dataclasses import dataclass, field
import subprocess
import sys
from types import SimpleNamespace

from builtin_interfaces.msg import Time
import cv2
from geometry_msgs.msg import TransformStamped
from nav_msgs.msg import Odometry
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

from rmdepth_ros.ros import conversions as conv
from rmdepth_ros.ros.conversions import ConversionError
from rmdepth_ros.ros.pointcloud import pack_rgb

RNG = np.random.default_rng(7)


@dataclass
class FakeImage:
    """A rosbags-style sensor_msgs/Image: same field names, numpy uint8 ``data``."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: np.ndarray
    header: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(
        stamp=SimpleNamespace(sec=12, nanosec=345), frame_id='camera_optical'))


def _header() -> Header:
    return Header(stamp=Time(sec=1700000000, nanosec=123456789), frame_id='camera_optical')


def _random_pixels(encoding: str, height: int = 4, width: int = 5) -> np.ndarray:
    fmt = conv.ENCODINGS[encoding]
    shape = (height, width) if fmt.channels == 1 else (height, width, fmt.channels)
    if np.issubdtype(fmt.dtype, np.floating):
        return RNG.normal(size=shape).astype(fmt.dtype)
    return RNG.integers(0, np.iinfo(fmt.dtype).max, size=shape, dtype=fmt.dtype)


def _image_msg(pixels: np.ndarray, encoding: str, step: int | None = None,
               big_endian: bool = False, cls=Image):
    """Build an Image by hand: rows of ``step`` bytes, padding filled with 0xEE."""
    height, width = pixels.shape[:2]
    order = '>' if big_endian else '<'
    rows = pixels.astype(pixels.dtype.newbyteorder(order)).reshape(height, -1).view(np.uint8)
    step = rows.shape[1] if step is None else step
    data = np.full((height, step), 0xEE, dtype=np.uint8)
    data[:, :rows.shape[1]] = rows
    if cls is FakeImage:
        return FakeImage(height, width, encoding, int(big_endian), step, data.reshape(-1))
    return Image(height=height, width=width, encoding=encoding, is_bigendian=int(big_endian),
                 step=step, data=data.tobytes())


# ---------------------------------------------------------------- image decoding

@pytest.mark.parametrize('encoding', sorted(conv.ENCODINGS))
@pytest.mark.parametrize('cls', [Image, FakeImage])
def test_every_encoding_round_trips(encoding, cls):
    pixels = _random_pixels(encoding)
    decoded = conv.image_to_array(_image_msg(pixels, encoding, cls=cls))
    assert decoded.dtype == pixels.dtype and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, pixels)


def test_padded_step_is_skipped_and_still_a_view():
    pixels = _random_pixels('rgb8', height=3, width=5)
    msg = _image_msg(pixels, 'rgb8', step=16, cls=FakeImage)
    decoded = conv.image_to_array(msg)
    np.testing.assert_array_equal(decoded, pixels)
    assert np.shares_memory(decoded, msg.data)
    np.testing.assert_array_equal(conv.image_to_rgb8(msg), pixels)
    bgr = _image_msg(pixels[:, :, ::-1], 'bgr8', step=16)
    np.testing.assert_array_equal(conv.image_to_rgb8(bgr), pixels)


@pytest.mark.parametrize('big_endian', [True, False])
def test_mono16_byte_order(big_endian):
    values = np.array([[0, 1, 256, 4660, 65535], [258, 513, 1000, 40000, 7]], dtype=np.uint16)
    msg = _image_msg(values, 'mono16', big_endian=big_endian)
    decoded = conv.image_to_array(msg)
    assert decoded.dtype == np.uint16 and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, values)
    np.testing.assert_array_equal(conv.image_to_rgb8(msg), (values >> 8).astype(np.uint8))


def test_big_endian_float_depth():
    depth = np.array([[1.5, np.nan], [0.25, 80.0]], dtype=np.float32)
    decoded = conv.image_to_array(_image_msg(depth, '32FC1', big_endian=True))
    np.testing.assert_array_equal(decoded, depth)


def test_tight_message_is_decoded_without_copy():
    pixels = _random_pixels('rgb8', 6, 8)
    fake = _image_msg(pixels, 'rgb8', cls=FakeImage)
    assert np.shares_memory(conv.image_to_array(fake), fake.data)
    assert np.shares_memory(conv.image_to_rgb8(fake), fake.data)
    real = _image_msg(pixels, 'rgb8')  # rclpy: data is an array.array
    assert np.shares_memory(conv.image_to_array(real), np.frombuffer(real.data, np.uint8))


@pytest.mark.parametrize('encoding, to_rgb', [
    ('bgr8', lambda p: p[:, :, ::-1]),
    ('rgba8', lambda p: p[:, :, :3]),
    ('bgra8', lambda p: p[:, :, 2::-1]),
    ('mono8', lambda p: p),
])
def test_image_to_rgb8_channel_order(encoding, to_rgb):
    pixels = _random_pixels(encoding)
    rgb = conv.image_to_rgb8(_image_msg(pixels, encoding))
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, to_rgb(pixels))


@pytest.mark.parametrize('kwargs, message', [
    (dict(data=bytes(1000)), 'data is 1000 bytes, expected step*height = 3072'),
    (dict(step=10, data=bytes(10 * 64)), 'step 10 is smaller than width*channels = 12'),
    (dict(encoding='yuv422'), "unsupported encoding 'yuv422'"),
    (dict(height=0, width=0, step=0, data=b''), 'image is empty (0x0)'),
])
def test_malformed_images_raise_clear_errors(kwargs, message):
    fields = dict(height=64, width=4, encoding='rgb8', step=48, data=bytes(3072))
    fields.update(kwargs)
    msg = Image(**{k: v for k, v in fields.items() if k != 'data'})
    msg.data = fields['data']
    with pytest.raises(ConversionError) as error:
        conv.image_to_array(msg)
    assert message in str(error.value)
    with pytest.raises(ConversionError):
        conv.image_to_rgb8(msg)


def test_estimator_input_rejects_non_camera_encodings():
    msg = _image_msg(_random_pixels('32FC1'), '32FC1')
    with pytest.raises(ConversionError, match="unsupported encoding '32FC1'"):
        conv.image_to_rgb8(msg)


# ---------------------------------------------------------------- compressed images

def _compressed(payload: np.ndarray, fmt: str, cls=CompressedImage):
    if cls is CompressedImage:
        msg = CompressedImage(format=fmt)
        msg.data = payload.tobytes()
        return msg
    return SimpleNamespace(format=fmt, data=payload.reshape(-1))


@pytest.mark.parametrize('cls', [CompressedImage, SimpleNamespace])
def test_compressed_round_trip(cls):
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, 255 - x * 3], axis=-1).astype(np.uint8)  # smooth
    ok, png = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    np.testing.assert_array_equal(conv.compressed_to_rgb8(_compressed(png, 'png', cls)), rgb)
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
    decoded = conv.compressed_to_rgb8(_compressed(jpeg, 'rgb8; jpeg compressed bgr8', cls))
    assert decoded.shape == rgb.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - rgb).mean() < 3.0
    gray = rgb[:, :, 1].copy()
    ok, gray_png = cv2.imencode('.png', gray)
    np.testing.assert_array_equal(conv.compressed_to_rgb8(_compressed(gray_png, 'png', cls)),
                                  gray)
    deep = (gray.astype(np.uint16) << 8) | 0x7F
    ok, deep_png = cv2.imencode('.png', deep)
    np.testing.assert_array_equal(conv.compressed_to_rgb8(_compressed(deep_png, 'png', cls)),
                                  gray)


@pytest.mark.parametrize('payload, fmt, message', [
    (np.frombuffer(b'definitely not an image', np.uint8), 'jpeg', 'cannot decode'),
    (np.zeros(0, np.uint8), 'jpeg', 'empty'),
    (np.zeros(16, np.uint8), '16UC1; compressedDepth png', 'compressedDepth'),
])
def test_compressed_errors(payload, fmt, message):
    with pytest.raises(ConversionError, match=message):
        conv.compressed_to_rgb8(_compressed(payload, fmt))


# ---------------------------------------------------------------- camera info

K_TEST = np.array([[718.9, 0.0, 607.2], [0.0, 721.5, 185.2], [0.0, 0.0, 1.0]])


def test_camera_info_round_trip():
    msg = conv.intrinsics_to_camera_info(K_TEST, 1242, 375, _header())
    assert isinstance(msg, CameraInfo) and msg.distortion_model == 'plumb_bob'
    assert list(msg.d) == [0.0] * 5
    np.testing.assert_array_equal(np.asarray(msg.r).reshape(3, 3), np.eye(3))
    np.testing.assert_array_equal(np.asarray(msg.p).reshape(3, 4)[:, :3], K_TEST)
    np.testing.assert_array_equal(np.asarray(msg.p).reshape(3, 4)[:, 3], 0.0)
    assert (msg.header.stamp.sec, msg.header.frame_id) == (1700000000, 'camera_optical')
    K, size = conv.camera_info_to_intrinsics(msg)
    assert K.shape == (3, 3) and K.dtype == np.float64 and size == (1242, 375)
    np.testing.assert_array_equal(K, K_TEST)
    rosbags_style = SimpleNamespace(k=K_TEST.reshape(9).copy(), width=1242, height=375)
    np.testing.assert_array_equal(conv.camera_info_to_intrinsics(rosbags_style)[0], K_TEST)


@pytest.mark.parametrize('change, message', [
    (lambda m: setattr(m, 'k', np.zeros(9)), 'all zeros'),
    (lambda m: m.k.__setitem__(2, np.nan), 'not finite'),
    (lambda m: m.k.__setitem__(5, np.inf), 'not finite'),
    (lambda m: m.k.__setitem__(0, 0.0), 'fx=0.0'),
    (lambda m: m.k.__setitem__(4, -5.0), 'fy=-5.0'),
    (lambda m: setattr(m, 'width', 0), 'empty'),
    (lambda m: setattr(m, 'height', 0), 'empty'),
])
def test_degenerate_camera_info_is_rejected(change, message):
    msg = conv.intrinsics_to_camera_info(K_TEST, 640, 192)
    change(msg)
    with pytest.raises(ConversionError, match=message):
        conv.camera_info_to_intrinsics(msg)


def test_scale_intrinsics_follows_the_pixel_centre_convention():
    scaled = conv.scale_intrinsics_np(K_TEST, (1242, 375), (640, 192))
    sx, sy = 640 / 1242, 192 / 375
    point = np.array([2.0, -0.7, 9.0])
    pixel = (K_TEST @ point)[:2] / point[2]
    scaled_pixel = (scaled @ point)[:2] / point[2]
    np.testing.assert_allclose(scaled_pixel, (pixel + 0.5) * [sx, sy] - 0.5)
    np.testing.assert_allclose(
        conv.scale_intrinsics_np(scaled, (640, 192), (1242, 375)), K_TEST, atol=1e-9)
    np.testing.assert_allclose(
        conv.scale_intrinsics_np(conv.scale_intrinsics_np(K_TEST, (1242, 375), (320, 96)),
                                 (320, 96), (640, 192)), scaled, atol=1e-9)
    np.testing.assert_array_equal(conv.scale_intrinsics_np(K_TEST, (64, 48), (64, 48)), K_TEST)


# ---------------------------------------------------------------- image builders

@pytest.mark.parametrize('encoding, array', [
    ('32FC1', np.array([[1.0, np.nan, 3.5], [0.1, 100.0, np.inf]], dtype=np.float32)),
    ('32FC2', RNG.normal(size=(3, 4, 2)).astype(np.float32)),
    ('mono8', np.array([[0, 255, 0], [255, 0, 255]], dtype=np.uint8)),
    ('bgr8', RNG.integers(0, 255, (3, 5, 3), dtype=np.uint8)),
    ('rgb8', RNG.integers(0, 255, (3, 5, 3), dtype=np.uint8)),
])
def test_array_to_image(encoding, array):
    header = _header()
    msg = conv.array_to_image(array, encoding, header)
    fmt = conv.ENCODINGS[encoding]
    assert isinstance(msg, Image) and msg.encoding == encoding
    assert (msg.height, msg.width) == array.shape[:2]
    assert msg.step == array.shape[1] * fmt.channels * np.dtype(fmt.dtype).itemsize
    assert len(msg.data) == msg.step * msg.height
    assert msg.is_bigendian == (sys.byteorder == 'big')
    assert msg.header == header and msg.header is not header
    np.testing.assert_array_equal(conv.image_to_array(msg), array)


def test_array_to_image_copies_a_rosbags_header_and_casts_floats():
    fake_header = FakeImage(1, 1, 'mono8', 0, 1, np.zeros(1, np.uint8)).header
    msg = conv.array_to_image(np.ones((2, 3)), '32FC1', fake_header)  # float64 in
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 345)
    assert msg.header.frame_id == 'camera_optical'
    assert conv.image_to_array(msg).dtype == np.float32


class PlainImage:
    """An Image-like class without rclpy's array.array field: builders fall back to the setter."""

    def __init__(self):
        self.header = SimpleNamespace(stamp=SimpleNamespace(sec=0, nanosec=0), frame_id='')
        self.height = self.width = self.step = self.is_bigendian = 0
        self.encoding = ''
        self.data = []


def test_array_to_image_with_another_message_class():
    depth = np.arange(6, dtype=np.float32).reshape(2, 3)
    msg = conv.array_to_image(depth, '32FC1', _header(), msg_cls=PlainImage)
    assert isinstance(msg, PlainImage) and msg.header.frame_id == 'camera_optical'
    np.testing.assert_array_equal(conv.image_to_array(msg), depth)


@pytest.mark.parametrize('array, encoding, message', [
    (np.ones((2, 3), dtype=bool), 'mono8', 'needs dtype uint8'),
    (np.ones((2, 3), dtype=np.float32), '32FC2', r'shape \(H, W, 2\)'),
    (np.ones((0, 3), dtype=np.float32), '32FC1', 'empty'),
    (np.ones((2, 3), dtype=np.uint8), 'yuv422', 'unsupported encoding'),
])
def test_array_to_image_errors(array, encoding, message):
    with pytest.raises(ConversionError, match=message):
        conv.array_to_image(array, encoding, _header())


# ---------------------------------------------------------------- point clouds

def _depth_grid(height=6, width=8):
    return (RNG.uniform(1.0, 30.0, size=(height, width))).astype(np.float32)


@pytest.mark.parametrize('with_rgb', [False, True])
def test_pointcloud_layout(with_rgb):
    depth = _depth_grid()
    rgb = RNG.integers(0, 255, depth.shape + (3,), dtype=np.uint8) if with_rgb else None
    cloud = conv.depth_to_pointcloud2(depth, K_TEST, _header(), rgb=rgb)
    names = ['x', 'y', 'z'] + (['rgb'] if with_rgb else [])
    assert isinstance(cloud, PointCloud2)
    assert [f.name for f in cloud.fields] == names
    assert [f.offset for f in cloud.fields] == [0, 4, 8, 12][:len(names)]
    assert all(f.datatype == 7 and f.count == 1 for f in cloud.fields)
    assert cloud.point_step == 4 * len(names)
    assert cloud.height == 1 and cloud.width == depth.size and cloud.is_dense
    assert cloud.row_step == cloud.point_step * cloud.width == len(cloud.data)
    assert cloud.header.frame_id == 'camera_optical' and cloud.header.stamp.sec == 1700000000


def test_pointcloud_back_projection_and_colour():
    depth = _depth_grid()
    K = K_TEST.copy()
    K[0, 1] = 3.0  # skew must be honoured too
    rgb = RNG.integers(0, 255, depth.shape + (3,), dtype=np.uint8)
    points = conv.pointcloud2_to_array(conv.depth_to_pointcloud2(depth, K, None, rgb=rgb))
    width = depth.shape[1]
    for v, u in [(0, 0), (2, 5), (5, 7), (3, 1)]:
        expected = depth[v, u] * np.linalg.inv(K) @ [u, v, 1.0]
        point = points[v * width + u]
        np.testing.assert_allclose([point['x'], point['y'], point['z']], expected, rtol=1e-5)
        r, g, b = (int(c) for c in rgb[v, u])
        assert point['rgb'].view(np.uint32) == (r << 16) | (g << 8) | b


def test_pack_rgb_matches_the_bit_layout():
    rgb = RNG.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    expected = ((rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8)
                | rgb[..., 2])
    np.testing.assert_array_equal(pack_rgb(rgb).view(np.uint32), expected)
    np.testing.assert_array_equal(pack_rgb(rgb.reshape(-1, 3)).view(np.uint32),
                                  expected.reshape(-1))


def test_pointcloud_drops_invalid_and_moving_points():
    depth = _depth_grid()
    depth[0, 0] = np.nan
    depth[1, 1] = np.inf
    depth[2, 2] = 0.0
    moving = np.zeros(depth.shape, dtype=bool)
    moving[4:, 6:] = True
    cloud = conv.depth_to_pointcloud2(depth, K_TEST, _header(), mask_drop=moving)
    points = conv.pointcloud2_to_array(cloud)
    assert cloud.width == depth.size - 3 - moving.sum() and cloud.is_dense
    assert np.all(np.isfinite(points['z']))
    kept = np.sort(points['z'])
    valid = np.isfinite(depth) & (depth > 0) & ~moving
    np.testing.assert_array_equal(kept, np.sort(depth[valid]))


@pytest.mark.parametrize('rgb', [None, np.zeros((4, 5, 3), np.uint8)])
def test_pointcloud_of_nothing_is_empty(rgb):
    depth = np.full((4, 5), np.nan, np.float32)
    cloud = conv.depth_to_pointcloud2(depth, K_TEST, _header(), rgb=rgb)
    assert (cloud.width, cloud.row_step, len(cloud.data)) == (0, 0, 0) and cloud.is_dense
    assert conv.pointcloud2_to_array(cloud).shape == (0,)


def test_pointcloud_stride_and_resized_colour():
    depth = _depth_grid(8, 12)
    gray = np.full((16, 24), 200, dtype=np.uint8)  # camera image twice the depth size
    cloud = conv.depth_to_pointcloud2(depth, K_TEST, _header(), rgb=gray, stride=2)
    points = conv.pointcloud2_to_array(cloud)
    assert cloud.width == 4 * 6
    np.testing.assert_array_equal(points['z'], depth[::2, ::2].reshape(-1))
    assert np.all(points['rgb'].view(np.uint32) == 0xC8C8C8)


def test_pointcloud2_to_array_handles_padding_and_byte_order():
    dtype = np.dtype({'names': ['x', 'i'], 'formats': ['>f4', '>u2'], 'offsets': [0, 6],
                      'itemsize': 12})
    rows = np.zeros((2, 3), dtype=dtype)
    rows['x'] = [[1.5, 2.5, 3.5], [4.5, 5.5, 6.5]]
    rows['i'] = [[1, 2, 3], [400, 500, 600]]
    data = np.zeros((2, 40), np.uint8)  # 36 bytes of points + 4 of padding per row
    data[:, :36] = rows.view(np.uint8).reshape(2, 36)
    fields = [SimpleNamespace(name='x', offset=0, datatype=7, count=1),
              SimpleNamespace(name='i', offset=6, datatype=4, count=1)]
    msg = SimpleNamespace(height=2, width=3, fields=fields, is_bigendian=True, point_step=12,
                          row_step=40, data=data.reshape(-1))
    cloud = conv.pointcloud2_to_array(msg)
    np.testing.assert_array_equal(cloud['x'], rows['x'].reshape(-1))
    np.testing.assert_array_equal(cloud['i'], rows['i'].reshape(-1))
    msg.data = msg.data[:-1]
    with pytest.raises(ConversionError, match='expected row_step'):
        conv.pointcloud2_to_array(msg)


# ---------------------------------------------------------------- odometry and TF

def _random_rotations(count):
    quaternions = RNG.normal(size=(count, 4))
    rotations = [conv.quaternion_to_matrix(q) for q in quaternions]
    # and the awkward ones: identity, 180 degrees about each axis and a diagonal
    rotations += [np.eye(3), np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]),
                  np.diag([-1.0, -1, 1]), conv.quaternion_to_matrix([1.0, 1.0, 0.0, 1e-9])]
    return rotations


def test_quaternion_round_trip():
    for R in _random_rotations(200):
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        q = conv.matrix_to_quaternion(R)
        assert abs(np.linalg.norm(q) - 1.0) < 1e-12 and q[3] >= 0
        np.testing.assert_allclose(conv.quaternion_to_matrix(q), R, atol=1e-12)
    np.testing.assert_allclose(conv.matrix_to_quaternion(np.diag([1.0, -1, -1])), [1, 0, 0, 0],
                               atol=1e-12)
    half_turn_z = conv.matrix_to_quaternion(np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]))
    np.testing.assert_allclose(half_turn_z, [0, 0, np.sqrt(0.5), np.sqrt(0.5)])
    with pytest.raises(ConversionError, match='not a rotation'):
        conv.matrix_to_quaternion(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ConversionError):
        conv.quaternion_to_matrix([0.0, 0.0, 0.0, 0.0])


def test_make_odometry():
    R = _random_rotations(1)[0]
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, [1.0, -2.0, 3.5]
    pose_var = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    twist_cov = RNG.normal(size=(6, 6))
    twist_cov = twist_cov @ twist_cov.T
    msg = conv.make_odometry(_header().stamp, 'odom', 'base_link', T, [0.5, 0.0, 0.1],
                             [0.0, 0.0, -0.2], pose_var, twist_cov)
    assert isinstance(msg, Odometry)
    assert (msg.header.frame_id, msg.child_frame_id) == ('odom', 'base_link')
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1700000000, 123456789)
    position = msg.pose.pose.position
    assert (position.x, position.y, position.z) == (1.0, -2.0, 3.5)
    o = msg.pose.pose.orientation
    np.testing.assert_allclose(conv.quaternion_to_matrix([o.x, o.y, o.z, o.w]), R, atol=1e-12)
    pose_cov = np.asarray(msg.pose.covariance)
    np.testing.assert_array_equal(pose_cov[[0, 7, 14, 21, 28, 35]], pose_var)
    assert np.count_nonzero(pose_cov) == 6
    np.testing.assert_array_equal(np.asarray(msg.twist.covariance).reshape(6, 6), twist_cov)
    assert msg.twist.twist.linear.x == 0.5 and msg.twist.twist.angular.z == -0.2
    with pytest.raises(ConversionError, match='pose_covariance'):
        conv.make_odometry(0.0, 'odom', 'base', T, [0, 0, 0], [0, 0, 0], -pose_var, pose_var)
    with pytest.raises(ConversionError, match='transform'):
        conv.make_odometry(0.0, 'odom', 'base', T[:3], [0, 0, 0], [0, 0, 0], pose_var, pose_var)


def test_make_transform_stamped_accepts_float_seconds():
    T = np.eye(4)
    T[:3, 3] = [0.1, 0.2, 0.3]
    msg = conv.make_transform_stamped(1700000000.25, 'odom', 'base_link', T)
    assert isinstance(msg, TransformStamped)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1700000000, 250000000)
    assert (msg.header.frame_id, msg.child_frame_id) == ('odom', 'base_link')
    t, q = msg.transform.translation, msg.transform.rotation
    assert (t.x, t.y, t.z) == (0.1, 0.2, 0.3) and (q.x, q.y, q.z, q.w) == (0, 0, 0, 1)


# ---------------------------------------------------------------- colour maps

def test_colorize_depth_uses_a_fixed_range():
    depth = np.linspace(2.0, 40.0, 64, dtype=np.float32).reshape(8, 8)
    depth[0, 0] = np.nan
    colour = conv.colorize_depth(depth, 1.0, 80.0)
    assert colour.dtype == np.uint8 and colour.shape == (8, 8, 3)
    assert np.all(colour[0, 0] == 0) and np.all(colour[1:].any(axis=-1))
    doubled = conv.colorize_depth(depth * 2.0, 1.0, 80.0)
    assert np.abs(colour[1:].astype(int) - doubled[1:]).sum() > 0
    # the colour of a depth value does not depend on the rest of the frame
    other = np.full_like(depth, 3.0)
    other[4, 4] = depth[4, 4]
    np.testing.assert_array_equal(conv.colorize_depth(other, 1.0, 80.0)[4, 4], colour[4, 4])
    # near is warm (red), far is cold (blue): BGR
    near, far = conv.colorize_depth(np.array([[1.0, 80.0]], np.float32), 1.0, 80.0)[0]
    assert near[2] > near[0] and far[0] > far[2]


def test_colorize_depth_robust_range_ignores_outliers_and_nan():
    depth = np.full((10, 10), 5.0, dtype=np.float32)
    depth[:, 5:] = 20.0
    depth[0, 0] = 0.001  # one absurd outlier
    depth[9, 9] = np.nan
    colour = conv.colorize_depth(depth)
    assert np.all(colour[9, 9] == 0)
    assert not np.array_equal(colour[5, 2], colour[5, 7])
    assert np.all(conv.colorize_depth(np.full((3, 3), np.nan, np.float32)) == 0)


def test_colorize_flow():
    flow = np.zeros((4, 4, 2), dtype=np.float32)
    flow[0, 1] = (5.0, 0.0)  # right
    flow[0, 2] = (-5.0, 0.0)  # left
    flow[0, 3] = (50.0, 0.0)  # beyond max_flow
    flow[1, 0] = (np.nan, 1.0)
    colour = conv.colorize_flow(flow, max_flow=10.0)
    assert colour.dtype == np.uint8 and colour.shape == (4, 4, 3)
    assert np.all(colour[3, 3] == 255)  # no motion: white
    assert np.all(colour[1, 0] == 0)  # unknown: black
    b, g, r = (int(c) for c in colour[0, 1])
    assert r == 255 and g < 200 and b < 200  # right: half-saturated red
    assert colour[0, 2, 0] > colour[0, 2, 2]  # left: cyan-ish, blue over red
    assert colour[0, 3].max() < 255 and colour[0, 3, 2] > colour[0, 3, 0]  # darkened red
    doubled = conv.colorize_flow(flow * 2.0, max_flow=10.0)
    assert not np.array_equal(colour[0, 1], doubled[0, 1])


def test_overlay_mask():
    rgb = RNG.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    mask = np.zeros((6, 8), dtype=np.uint8)
    mask[2:4, 3:6] = 255
    out = conv.overlay_mask(rgb, mask, color=(255, 0, 0), alpha=0.5)
    bgr = rgb[:, :, ::-1]
    assert out.dtype == np.uint8 and out.shape == (6, 8, 3)
    np.testing.assert_array_equal(out[mask == 0], bgr[mask == 0])
    expected = np.round(0.5 * bgr[mask > 0].astype(float) + 0.5 * np.array([0, 0, 255]))
    assert np.abs(out[mask > 0] - expected).max() <= 1
    small = np.zeros((3, 4), dtype=bool)
    small[0, 0] = True  # resized (nearest) onto the 6x8 gray image
    gray_out = conv.overlay_mask(rgb[:, :, 0], small)
    assert np.any(gray_out[:2, :2] != rgb[:2, :2, 0:1]) and np.all(
        gray_out[2:] == rgb[2:, :, 0:1])


# ---------------------------------------------------------------- the boundary itself

def test_decoding_needs_neither_rclpy_nor_message_packages():
    script = """
import sys
for name in ('rclpy', 'sensor_msgs', 'std_msgs', 'nav_msgs', 'geometry_msgs'):
    sys.modules[name] = None  # any import of them now fails
from types import SimpleNamespace
import numpy as np
from rmdepth_ros.ros import conversions as conv
msg = SimpleNamespace(height=2, width=2, encoding='bgr8', is_bigendian=0, step=6,
                      data=np.arange(12, dtype=np.uint8))
assert conv.image_to_rgb8(msg)[0, 0].tolist() == [2, 1, 0]
info = SimpleNamespace(k=np.array([5.0, 0, 1, 0, 5, 1, 0, 0, 1]), width=2, height=2)
assert conv.camera_info_to_intrinsics(info)[1] == (2, 2)
"""
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_built_messages_serialise_like_published_ones():
    serialization = pytest.importorskip('rclpy.serialization')
    depth = _depth_grid()
    rgb = RNG.integers(0, 255, depth.shape + (3,), dtype=np.uint8)
    built = [
        (conv.array_to_image(depth, '32FC1', _header()), Image),
        (conv.intrinsics_to_camera_info(K_TEST, 8, 6, _header()), CameraInfo),
        (conv.depth_to_pointcloud2(depth, K_TEST, _header(), rgb=rgb), PointCloud2),
        (conv.make_odometry(1.5, 'odom', 'base', np.eye(4), [1, 2, 3], [0, 0, 1], np.ones(6),
                            np.ones(6)), Odometry),
        (conv.make_transform_stamped(1.5, 'odom', 'base', np.eye(4)), TransformStamped),
    ]
    for msg, cls in built:
        assert serialization.deserialize_message(serialization.serialize_message(msg), cls) == msg
