"""The seed's water-mask script on the drop-in: EOScale's notebook script
(python/tests/eoscale_scripts/water_mask.py), its definitions and its last cell, the 4-date
aggregation the seed page measured (the two cells before it, one date's NDWI and mask, are
skipped). Run in a folder holding ./data/<the notebook's 4 file names>; writes ./water_mask_agg.tif.

    dropin_water_mask.py [--filter-cpu] [SCRIPT]

--filter-cpu prints, at the end, the CPU seconds spent inside the script's own filter functions (its
NumPy code, summed over the worker threads: time.thread_time around each call): what the script costs
before any engine or interpreter overhead.
"""

import atexit
import sys
import threading
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tests" / "eoscale_scripts" / "water_mask.py"


def last_cell_only(source):
    """The script without its first two `with EOContextManager(...)` blocks (each runs to the next def)."""
    lines, out, skipping, seen = source.splitlines(), [], False, 0
    for line in lines:
        if line.startswith("with EOContextManager"):
            seen += 1
            skipping = seen < 3
        elif skipping and line and not line[0].isspace():
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def time_filters():
    """Wraps the drop-in's n_images_to_m_images_filter so that each image_filter call adds its thread's CPU
    time to a total printed at exit."""
    import eoscale.eo_executors as exe
    total, lock, original = [0.0, 0], threading.Lock(), exe.n_images_to_m_images_filter

    def wrapped(*args, image_filter=None, **kwargs):
        def timed(bufs, profiles, params):
            t0 = time.thread_time()
            try:
                return image_filter(bufs, profiles, params)
            finally:
                with lock:
                    total[0] += time.thread_time() - t0
                    total[1] += 1
        timed.__name__ = getattr(image_filter, "__name__", "image_filter")
        return original(*args, image_filter=timed, **kwargs)

    exe.n_images_to_m_images_filter = wrapped
    atexit.register(lambda: print(f"filter CPU: {total[0]:.2f} s in {total[1]} calls"))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--filter-cpu":
        args = args[1:]
        time_filters()
    path = Path(args[0]) if args else SCRIPT
    code = last_cell_only(path.read_text())
    exec(compile(code, str(path), "exec"), {"__name__": "__main__"})
