"""The seed's 4-date water mask with the native Python API (built-in filters, no Python per tile).

    native_water_mask.py OUTPUT.tif DATE.tif... [--workers N]

Per date NDWI = (G - NIR) / (G + NIR + 0.001) (G = band 2, NIR = band 4, as float32), water where
NDWI > 0, a pixel water when it is water on every date: a uint8 mask, as the C++ example writes it."""

import argparse

import eoscale
from eoscale import filters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("dates", nargs="+")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with eoscale.Context(workers=args.workers) as ctx:
        masks = []
        for path in args.dates:
            date = ctx.open(path, bands=[2, 4])
            ndwi = ctx.map(date, filters.ndwi(green=1, nir=2, epsilon=0.001))[0]
            masks.append(ctx.map(ndwi, filters.threshold(0.0, ">"))[0])
        water = ctx.map(masks, filters.logical_and())[0]
        ctx.write(water, args.output)
        ctx.run()


if __name__ == "__main__":
    main()
