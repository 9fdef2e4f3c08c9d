"""Byte sizes written for humans: 64 * 2**20, "64MiB", "2 GiB", "512k"."""

import re

_UNITS = {
    "": 1, "b": 1,
    "k": 1 << 10, "kb": 10**3, "kib": 1 << 10,
    "m": 1 << 20, "mb": 10**6, "mib": 1 << 20,
    "g": 1 << 30, "gb": 10**9, "gib": 1 << 30,
    "t": 1 << 40, "tb": 10**12, "tib": 1 << 40,
}


def parse_bytes(size):
    """Bytes as an int from an int, None (0) or a string like "64MiB" (KiB/MiB/GiB binary, kB/MB/GB decimal)."""
    if size is None:
        return 0
    if isinstance(size, bool):
        raise TypeError("memory budget: a number of bytes or a string like '64MiB' expected")
    if isinstance(size, int):
        if size < 0:
            raise ValueError(f"memory budget must not be negative, got {size}")
        return size
    if isinstance(size, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", size)
        if m and m.group(2).lower() in _UNITS:
            return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
        raise ValueError(f"memory budget: cannot read {size!r} (examples: 67108864, '64MiB', '2GiB', '500MB')")
    raise TypeError(f"memory budget: a number of bytes or a string like '64MiB' expected, got {type(size).__name__}")
