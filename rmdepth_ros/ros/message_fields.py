"""Field-level helpers shared by the message conversions.

Everything here works on message objects by their field names only (duck typing), so the same
code reads messages from rclpy (``data`` is an ``array.array('B')``), from the pure-Python
``rosbags`` library (``data`` is a numpy uint8 array) or plain ``bytes``. Nothing imports rclpy.
"""

import array
import math
import sys
from typing import Any

import numpy as np

#: ``is_bigendian`` value for data written by this machine.
MACHINE_IS_BIGENDIAN = int(sys.byteorder == 'big')


class ConversionError(ValueError):
    """A message cannot be converted; the text names the field and the problem."""


def bytes_view(data: Any) -> np.ndarray:
    """Return a message's ``data`` field as a 1-D uint8 array, without copying where possible.

    Args:
        data: ``array.array('B')`` (rclpy), numpy array (rosbags), ``bytes``, ``bytearray``,
            ``memoryview`` or a sequence of ints.

    Returns:
        (N,) uint8; a view of ``data``'s memory for every buffer type (read-only for ``bytes``),
        a copy only for plain Python sequences.
    """
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            data = np.ascontiguousarray(data).view(np.uint8)
        return data.reshape(-1)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        # lists of ints, or buffers that are not contiguous
        return np.asarray(bytes(data) if isinstance(data, memoryview) else data, dtype=np.uint8)


def set_data(msg: Any, array_nd: np.ndarray) -> None:
    """Store a numpy array's bytes (C order) in ``msg.data``, with a single copy.

    rclpy keeps ``data`` as an ``array.array('B')`` that the message owns; filling it in place
    with ``frombytes`` is one memcpy, whereas the field setter copies whatever it is given once
    more (field checks off, the Kilted default) or, for ``bytes`` with field checks on
    (``ROS_PYTHON_CHECK_FIELDS=1``, and Humble / Jazzy's asserts), checks each byte in Python
    (~70 ms per MB). Other message classes get an ``array.array('B')`` through the setter.
    """
    flat = np.ascontiguousarray(array_nd).reshape(-1).view(np.uint8)
    field = getattr(msg, 'data', None)
    if isinstance(field, array.array) and field.typecode == 'B':
        del field[:]
        field.frombytes(flat)
        return
    data = array.array('B')
    data.frombytes(flat)
    msg.data = data


def data_buffer(msg: Any, nbytes: int) -> np.ndarray:
    """Resize ``msg.data`` to ``nbytes`` in place and return a writable (nbytes,) uint8 view.

    Lets a builder compute straight into the message's own ``array.array('B')`` (one buffer
    touched instead of a result array plus a copy). Drop the view before the message is used
    further: an ``array.array`` cannot be resized while a view of it exists.

    Raises:
        ConversionError: the message class does not keep ``data`` as ``array.array('B')``.
    """
    field = getattr(msg, 'data', None)
    if not (isinstance(field, array.array) and field.typecode == 'B'):
        msg.data = array.array('B')
        field = msg.data
        if not (isinstance(field, array.array) and field.typecode == 'B'):
            raise ConversionError(f"{type(msg).__name__}.data is not an array.array('B')")
    del field[:]
    if nbytes > 0:
        field.append(0)
        field *= nbytes  # in-place repeat: one allocation, no temporary
    return np.frombuffer(field, dtype=np.uint8)


def copy_header(dst: Any, src: Any | None) -> None:
    """Copy ``src`` (a std_msgs/Header or a duck-typed one) into ``dst``, field by field.

    Field-wise copying keeps the output's own Header class (rclpy asserts the type when field
    checks are on) and avoids sharing one mutable header between messages.
    """
    if src is None:
        return
    set_stamp(dst.stamp, src.stamp)
    dst.frame_id = str(src.frame_id)


def set_stamp(dst: Any, stamp: Any) -> None:
    """Write ``stamp`` into the builtin_interfaces/Time ``dst`` (fields ``sec``, ``nanosec``).

    Args:
        stamp: a Time message (or anything with ``sec`` and ``nanosec``), an ``rclpy.time.Time``
            (anything with ``nanoseconds``), or float / int seconds.
    """
    if hasattr(stamp, 'sec') and hasattr(stamp, 'nanosec'):
        sec, nanosec = int(stamp.sec), int(stamp.nanosec)
    elif hasattr(stamp, 'nanoseconds'):
        sec, nanosec = divmod(int(stamp.nanoseconds), 1_000_000_000)
    elif isinstance(stamp, (int, np.integer)):
        sec, nanosec = int(stamp), 0
    elif isinstance(stamp, (float, np.floating)) and math.isfinite(stamp):
        # split before scaling: float seconds since 1970 times 1e9 would lose ~200 ns
        sec = math.floor(stamp)
        nanosec = round((float(stamp) - sec) * 1e9)
        sec, nanosec = sec + nanosec // 1_000_000_000, nanosec % 1_000_000_000
    else:
        raise ConversionError(f'cannot use {stamp!r} as a time stamp')
    dst.sec = sec
    dst.nanosec = nanosec


def stamp_seconds(stamp: Any) -> float:
    """builtin_interfaces/Time (fields ``sec``, ``nanosec``) -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def message_class(msg_cls: Any | None, package: str, name: str) -> Any:
    """Return ``msg_cls`` or, when it is None, import ``package.msg.name`` lazily.

    Lazy imports keep the decoders usable where the ROS message packages are not installed.
    """
    if msg_cls is not None:
        return msg_cls
    import importlib

    return getattr(importlib.import_module(f'{package}.msg'), name)
