"""The seed page's table redone: the 4-date water mask at 3500^2 and 10980^2 on the drop-in (EOScale's
notebook script, unchanged), with the native Python API, and the C++ example as the floor. Wall time and
peak RSS of each whole process (/usr/bin/time's %e and %M), the same run; the three masks compared.

    PYTHONPATH=build/python python3 python/bench/water_mask_bench.py --build build --work /tmp/wm \
        --sizes 3500 10980 [--workers 2] [--repeat 1]

Data: build/examples/s2_like/make_s2_like writes 4 int16 dates per size; they are cast to float32 (once,
with the engine), because EOScale's notebook stores the NDWI into a copy of the date's profile: on int16
dates its NDWI (and so its mask) is truncated to 0 (python/tests/test_eoscale_scripts.py), while on
float32 dates it is the real mask, comparable with the C++ one (uint8, 1 band). The drop-in's output
keeps the notebook's profile (4 bands float32); its first band is compared.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATES = ["xt_SENTINEL2B_20180621-111349-432_L2A_T30TWT_D_V1-8_RVBPIR.tif",
         "xt_SENTINEL2B_20180701-111103-470_L2A_T30TWT_D_V1-8_RVBPIR.tif",
         "xt_SENTINEL2A_20180706-110918-241_L2A_T30TWT_D_V1-8_RVBPIR.tif",
         "xt_SENTINEL2B_20180711-111139-550_L2A_T30TWT_D_V1-8_RVBPIR.tif"]


def measure(cmd, cwd, env=None):
    """(wall seconds, peak RSS MiB) of `cmd`, run to completion under /usr/bin/time; raises on failure.

    Through /usr/bin/time, not os.wait4 on a child of this process: a child's ru_maxrss counts the
    memory of the process it was forked from until it execs (this one, with NumPy and the engine
    loaded: 180 MiB at 10980^2 once its data was made), not the program's own peak."""
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stderr[-2000:]}")
    elapsed, kib = r.stderr.strip().splitlines()[-1].split()
    return float(elapsed), int(kib) / 1024.0


CAST = """
import sys, eoscale
from eoscale import filters
with eoscale.Context(workers=2) as ctx:
    ctx.write(ctx.map(ctx.open(sys.argv[1]), filters.cast("float32"))[0], sys.argv[2],
              options={"TILED": "YES", "BLOCKXSIZE": 256, "BLOCKYSIZE": 256})
    ctx.run()
"""

COMPARE = """
import sys, numpy as np, rasterio
def band1(path):
    with rasterio.open(path) as d:
        return d.read(1).astype(np.uint8)
masks = [band1(p) for p in sys.argv[1:]]
print(all(np.array_equal(masks[0], m) for m in masks[1:]), int(masks[-1].sum()))
"""


def make_data(build, work, size, env):
    """work/<size>/data/<the notebook's names>: 4 float32 dates (tiled 256) cast from make_s2_like's int16 ones,
    in other processes (this one stays small: see measure)."""
    i16 = work / f"i16_{size}"
    folder = work / str(size) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(build / "examples/s2_like/make_s2_like"), str(i16), "--size", str(size), "--dates", "4"],
                   check=True, stdout=subprocess.DEVNULL)
    for d, name in enumerate(DATES):
        out = folder / name
        if not out.exists():
            subprocess.run([sys.executable, "-c", CAST, str(i16 / f"date_{d + 1}.tif"), str(out)], env=env,
                           check=True)
    return [str(folder / n) for n in DATES]


def run_size(args, size, env):
    dates = make_data(args.build, args.work, size, env)
    cwd = args.work / str(size)
    runs = {
        "drop-in (EOScale's notebook script)": ([sys.executable, str(HERE / "dropin_water_mask.py")],
                                                cwd / "water_mask_agg.tif"),
        "native Python API": ([sys.executable, str(HERE / "native_water_mask.py"), "native.tif", *dates,
                               "--workers", str(args.workers)], cwd / "native.tif"),
        "C++ example (floor)": ([str(args.build / "examples/water_mask/water_mask"), "--workers",
                                 str(args.workers), "cpp.tif", *dates], cwd / "cpp.tif"),
    }
    rows = []
    for name, (cmd, out) in runs.items():
        best = None
        for _ in range(args.repeat):
            wall, rss = measure(cmd, cwd, env)
            best = (wall, rss) if best is None or wall < best[0] else best
        rows.append((name, best[0], best[1], out))
    r = subprocess.run([sys.executable, "-c", COMPARE, *[str(out) for *_, out in rows]], env=env, check=True,
                       capture_output=True, text=True)
    identical, water = r.stdout.split()
    return rows, identical == "True", int(water)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=Path("build"))
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[3500, 10980])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs per program; the fastest is kept")
    args = ap.parse_args()
    args.build, args.work = args.build.resolve(), args.work.resolve()
    env = dict(os.environ, PYTHONPATH=str(args.build / "python"))
    print("| size | program | wall (s) | peak RSS (MiB) | x C++ time |")
    print("|---|---|---:|---:|---:|")
    for size in args.sizes:
        rows, identical, water = run_size(args, size, env)
        floor = rows[-1][1]
        for name, wall, rss, _ in rows:
            print(f"| {size}² | {name} | {wall:.1f} | {rss:.0f} | {wall / floor:.2f} |", flush=True)
        print(f"<!-- {size}²: masks identical: {identical}; water pixels: {water} -->", flush=True)
        if not identical:
            sys.exit(f"{size}: the masks differ")


if __name__ == "__main__":
    main()
