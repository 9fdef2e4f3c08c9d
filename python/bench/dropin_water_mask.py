"""The seed's water-mask script on the drop-in: EOScale's notebook script
(python/tests/eoscale_scripts/water_mask.py), its definitions and its last cell, the 4-date
aggregation the seed page measured (the two cells before it, one date's NDWI and mask, are
skipped). Run in a folder holding ./data/<the notebook's 4 file names>; writes ./water_mask_agg.tif.

    dropin_water_mask.py [SCRIPT]
"""

import sys
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


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SCRIPT
    code = last_cell_only(path.read_text())
    exec(compile(code, str(path), "exec"), {"__name__": "__main__"})
