"""Row strips: process a frame in cache-sized pieces.

Full-frame float temporaries (0.5 MB each at 640x192) are allocated with mmap or from a heap
top that glibc trims after every call, so each one costs ~120 page faults per frame; strips of
~16k pixels keep temporaries in the allocator's small-block pools and in the CPU cache.
"""

STRIP_PIXELS = 16384


def row_strips(height: int, width: int) -> list[tuple[int, int]]:
    """[(first_row, end_row), ...] covering ``height`` rows, ~STRIP_PIXELS pixels each."""
    rows = max(1, STRIP_PIXELS // max(int(width), 1))
    return [(start, min(start + rows, height)) for start in range(0, height, rows)]
