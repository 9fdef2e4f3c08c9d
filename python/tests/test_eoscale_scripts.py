"""EOScale's own scripts, run unchanged on the drop-in (python/tests/eoscale_scripts/), against a NumPy
reference computed on the whole image here: examples/pipeline.py and the water-mask notebook's script.
Each test writes the data a script expects under its paths in a temporary folder and runs it there."""

import os
import shutil
import subprocess
import sys
from functools import reduce
from pathlib import Path

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")  # EOScale's scripts use rasterio and scipy
pytest.importorskip("scipy")
from rasterio.transform import Affine  # noqa: E402

SCRIPTS = Path(__file__).parent / "eoscale_scripts"
DATES = ["xt_SENTINEL2B_20180621-111349-432_L2A_T30TWT_D_V1-8_RVBPIR.tif",
         "xt_SENTINEL2B_20180701-111103-470_L2A_T30TWT_D_V1-8_RVBPIR.tif",
         "xt_SENTINEL2A_20180706-110918-241_L2A_T30TWT_D_V1-8_RVBPIR.tif",
         "xt_SENTINEL2B_20180711-111139-550_L2A_T30TWT_D_V1-8_RVBPIR.tif"]
GEO = {"crs": "EPSG:32630", "transform": Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5300000.0)}


def run_script(name, cwd):
    shutil.copy(SCRIPTS / name, cwd / name)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, name], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def read(path):
    with rasterio.open(path) as d:
        return d.read(), d.profile


def s2_dates(shape, dtype, seed=21):
    """Four 4-band dates: land (NIR > G) with a lake (G > NIR) that moves a little, plus noise."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    dates = []
    for d in range(4):
        lake = (xx - w / 2 - 7 * d) ** 2 + (yy - h / 2) ** 2 < (min(h, w) / 3) ** 2
        bands = rng.integers(200, 1500, size=(4, h, w)).astype(np.float64)
        bands[1] += np.where(lake, 900, 0)
        bands[3] += np.where(lake, 0, 1200)
        dates.append(bands.astype(dtype))
    return dates


def ndwi_ref(date):
    return (date[1] - date[3]) / (date[1] + date[3] + 0.001)


def store(ref, like):
    """NumPy's assignment of `ref` into an array of `like`'s shape and dtype (EOScale's default_reduce)."""
    out = np.zeros(like.shape, like.dtype)
    out[...] = ref
    return out


def test_water_mask_notebook(tmp_path):
    (tmp_path / "data").mkdir()
    dates = s2_dates((230, 310), np.float32)
    for name, date in zip(DATES, dates):
        with rasterio.open(tmp_path / "data" / name, "w", driver="GTiff", width=310, height=230, count=4,
                           dtype="float32", **GEO) as d:
            d.write(date)
    run_script("water_mask.py", tmp_path)

    ndwi = [store(ndwi_ref(d), d) for d in dates]       # profile copied from the date: 4 bands float32
    masks = [store(np.where(n > 0, True, False), n) for n in ndwi]
    agg = store(reduce(np.logical_and, masks), masks[0])

    out, profile = read(tmp_path / "s2_20180621_NDWI.tif")
    np.testing.assert_array_equal(out, ndwi[0])
    assert profile["count"] == 4 and profile["dtype"] == "float32" and profile["transform"] == GEO["transform"]
    out, _ = read(tmp_path / "s2_20180621_water_mask.tif")
    np.testing.assert_array_equal(out, masks[0])
    out, profile = read(tmp_path / "water_mask_agg.tif")
    np.testing.assert_array_equal(out, agg)
    water = int(agg[0].sum())
    assert 0 < water < agg[0].size  # the lakes' intersection, not a trivial mask
    assert water < int(masks[0][0].sum())


def test_pipeline(tmp_path):
    (tmp_path / "data" / "outputs").mkdir(parents=True)
    rng = np.random.default_rng(5)
    h, w = 260, 300
    yy, xx = np.mgrid[0:h, 0:w]
    dsm = (100 + 0.05 * xx + 0.1 * yy + rng.normal(0, 0.5, size=(h, w))).astype(np.float32)
    nodata = -32768.0
    for _ in range(25):  # holes of a few pixels to a few tens
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(1, 12)
        dsm[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = nodata
    with rasterio.open(tmp_path / "data" / "dsm.tif", "w", driver="GTiff", width=w, height=h, count=1,
                       dtype="float32", nodata=nodata, **GEO) as d:
        d.write(dsm, 1)
    stdout = run_script("pipeline.py", tmp_path)

    from rasterio.fill import fillnodata
    from scipy.ndimage import uniform_filter
    mask = np.where(dsm == nodata, 1, 0).astype(np.uint8)
    filled = fillnodata(dsm.copy(), mask=np.where(mask > 0, 0, 1).astype(np.uint8), max_search_distance=100.0,
                        smoothing_iterations=0)
    smooth = uniform_filter(filled, size=3)
    out_dir = tmp_path / "data" / "outputs"
    out, profile = read(out_dir / "nodata_mask.tif")
    np.testing.assert_array_equal(out[0], mask)
    assert profile["dtype"] == "uint8" and profile["nodata"] is None and 0 < mask.sum() < mask.size
    out, profile = read(out_dir / "filled_dsm.tif")
    np.testing.assert_array_equal(out[0], filled)
    assert profile["nodata"] == nodata and not (out == nodata).any()
    out, _ = read(out_dir / "smooth_dsm.tif")
    np.testing.assert_array_equal(out[0], smooth)
    lo, hi = (np.float32(v) for v in stdout.split()[-2:])  # printed float32 scalars
    assert (lo, hi) == (min(0.0, smooth.min()), max(0.0, smooth.max()))  # EOScale's fold starts at 0


def test_water_mask_int16_semantics():
    """On int16 dates (the seed's), EOScale's notebook stores the NDWI into the date's int16 profile: NumPy's
    assignment truncates it (0 except where G + NIR is about 0); the drop-in does the same."""
    from eoscale.eo_executors import n_images_to_m_images_filter
    from eoscale.manager import EOContextManager
    date = s2_dates((120, 140), np.int16, seed=3)[0]
    date[1, :5, :5], date[3, :5, :5] = 7, -7  # G + NIR = 0: NDWI = 14 / 0.001
    with EOContextManager(nb_workers=2, tile_mode=True, tile_max_size=32, progress=False) as m:
        key = m.create_memview("date", date, {"width": 140, "height": 120, "count": 4, "dtype": "int16"})
        out = n_images_to_m_images_filter(
            inputs=[key], context_manager=m, generate_output_profiles=lambda profiles, params: profiles,
            image_filter=lambda bufs, profiles, params: [(b[1] - b[3]) / (b[1] + b[3] + 0.001) for b in bufs])
        got = m.get_array(out[0])
    ref = store(ndwi_ref(date), date)
    np.testing.assert_array_equal(got, ref)
    assert got.dtype == np.int16 and (ref[:, :5, :5] == 14000).all() and (ref[:, 5:, 5:] == 0).all()
