"""Middlebury `.flo` optical-flow files (also used by MPI-Sintel and FlyingChairs).

Layout (little-endian): the four bytes 'PIEH' (float32 202021.25, a byte-order check), int32
width, int32 height, then height x width x 2 float32 (u, v) row by row. Values above 1e9 in
magnitude mean "unknown" and are read as NaN; NaN is written as 1e10.

The flow in these files is FORWARD flow on the FIRST frame's grid: the point at x in frame 1 is
at x + flow in frame 2. Our convention (docs/conventions.md) is the other way round, on the
second frame's grid; `rmdepth_ros.datasets.flow_convert.forward_to_ours` converts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rmdepth_ros.datasets.sequence import DataError

FLO_MAGIC = b'PIEH'
UNKNOWN_ABOVE = 1e9  # Middlebury's UNKNOWN_FLOW_THRESH
UNKNOWN_WRITTEN = 1e10
_MAX_SIDE = 1 << 16


def read_flo(path: str | Path) -> np.ndarray:
    """Read a .flo file -> (H, W, 2) float32 pixels, NaN where unknown (both components)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f'{path}: file not found')
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != FLO_MAGIC:
        raise DataError(f"{path}: not a .flo file (expected the 4 bytes 'PIEH' first, found "
                        f'{data[:4]!r})')
    width, height = (int(v) for v in np.frombuffer(data, '<i4', 2, offset=4))
    if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE):
        raise DataError(f'{path}: implausible size {width}x{height} in the header')
    expected = 12 + width * height * 8
    if len(data) != expected:
        raise DataError(f'{path}: {len(data)} bytes, expected {expected} for a {width}x{height} '
                        'flow')
    flow = np.frombuffer(data, '<f4', width * height * 2, offset=12)
    flow = flow.reshape(height, width, 2).astype(np.float32)
    with np.errstate(invalid='ignore'):
        unknown = ~(np.abs(flow) <= UNKNOWN_ABOVE).all(axis=2)  # also catches NaN
    flow[unknown] = np.nan
    return flow


def write_flo(path: str | Path, flow: np.ndarray) -> Path:
    """Write (H, W, 2) flow in pixels as a .flo file; non-finite vectors become 'unknown'."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[0] == 0 or flow.shape[1] == 0:
        raise ValueError(f'flow must be (H, W, 2), got {flow.shape}')
    out = flow.astype('<f4')  # a copy
    out[~np.isfinite(out).all(axis=2)] = UNKNOWN_WRITTEN
    path = Path(path)
    header = FLO_MAGIC + np.array([flow.shape[1], flow.shape[0]], '<i4').tobytes()
    path.write_bytes(header + out.tobytes())
    return path
