"""The native neighbourhood filters (convolve, kernel_reduce) and reductions (statistics, histogram)
against NumPy/SciPy references, on images of many small tiles, with 1 and 2 workers."""
import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.ndimage as ndi

import eoscale
from eoscale import filters

# (workers, tile_size): a 70 x 90 image is 5 x 6 tiles of 16, 2 x 3 of 40.
TILINGS = [(1, 16), (2, 16), (2, 40)]
MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]


def run_map(workers, tile_size, arrays, filt, profiles=None):
    with eoscale.Context(workers=workers, memory_budget="64MiB", tile_size=tile_size) as c:
        imgs = [c.from_array(a, p) for a, p in zip(arrays, profiles or [None] * len(arrays))]
        return [c.read(o) for o in c.map(imgs, filt)]


def run_reduce(workers, tile_size, arrays, red, profiles=None):
    with eoscale.Context(workers=workers, memory_budget="64MiB", tile_size=tile_size) as c:
        imgs = [c.from_array(a, p) for a, p in zip(arrays, profiles or [None] * len(arrays))]
        return c.reduce(imgs, red).get()


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(7).normal(100.0, 30.0, size=(2, 70, 90))


@pytest.mark.parametrize("workers,tile_size", TILINGS)
@pytest.mark.parametrize("mode", MODES)
def test_convolve_matches_scipy(image, workers, tile_size, mode):
    rng = np.random.default_rng(1)
    for kernel in (rng.normal(size=(3, 3)), rng.normal(size=(2, 4)), np.ones((5, 1)) / 5, rng.normal(size=(7, 7))):
        out, = run_map(workers, tile_size, [image], filters.convolve(kernel, mode=mode, cval=-3.5))
        ref = np.stack([ndi.convolve(b, kernel, mode=mode, cval=-3.5) for b in image])
        assert out.shape == image.shape and out.dtype == np.float64
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("workers,tile_size", TILINGS)
def test_convolve_dtypes(workers, tile_size):
    a = np.random.default_rng(2).integers(-1000, 1000, size=(1, 70, 90), dtype=np.int16)
    kernel = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.int32)  # an integer kernel is accepted
    out, = run_map(workers, tile_size, [a], filters.convolve(kernel, dtype="float64", name="sobel"))
    np.testing.assert_array_equal(out[0], ndi.convolve(a[0].astype(np.float64), kernel.astype(np.float64)))
    f32 = a.astype(np.float32) / 7
    out, = run_map(workers, tile_size, [f32], filters.convolve(kernel / 4.0))
    assert out.dtype == np.float32  # the input's type when dtype is None
    ref = ndi.convolve(f32[0].astype(np.float64), kernel / 4.0).astype(np.float32)
    np.testing.assert_allclose(out[0], ref, rtol=1e-6, atol=1e-3)


def generic_ref(band, reduction, radius, mode, cval):
    func = {"sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max}[reduction]
    return ndi.generic_filter(band, func, size=2 * radius + 1, mode=mode, cval=cval)


@pytest.mark.parametrize("workers,tile_size", TILINGS)
@pytest.mark.parametrize("reduction", ["sum", "mean", "min", "max"])
def test_kernel_reduce_matches_generic_filter(image, workers, tile_size, reduction):
    small = image[:, :50, :70]
    for mode, radius in (("constant", 2), ("reflect", 1), ("nearest", 3), ("mirror", 2), ("wrap", 1)):
        f = filters.kernel_reduce(radius, reduction, mode=mode, cval=2.5, dtype="float64")
        assert f.margin >= radius
        out, = run_map(workers, tile_size, [small], f)
        ref = np.stack([generic_ref(b, reduction, radius, mode, 2.5) for b in small])
        if reduction in ("min", "max"):
            np.testing.assert_array_equal(out, ref)
        else:
            np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_kernel_reduce_n_inputs_and_default_dtype(image):
    a = image[0, :50, :70]
    b = np.random.default_rng(3).integers(0, 255, size=(50, 70), dtype=np.uint8)
    outs = run_map(2, 16, [a, b], filters.kernel_reduce(1, "max"))
    assert len(outs) == 2 and all(o.dtype == np.float32 for o in outs)  # EOScale's default float32
    np.testing.assert_array_equal(outs[0][0], ndi.maximum_filter(a, size=3, mode="constant").astype(np.float32))
    np.testing.assert_array_equal(outs[1][0], ndi.maximum_filter(b, size=3, mode="constant").astype(np.float32))


def masked_inputs():
    """An int16 image with nodata 0 (many zeros) and a float32 one with NaNs and nodata -1."""
    rng = np.random.default_rng(11)
    a = rng.integers(-5, 4000, size=(2, 70, 90), dtype=np.int16)
    a[a < 100] = 0
    b = rng.normal(0.5, 2.0, size=(1, 70, 90)).astype(np.float32)
    b[0, ::7, ::3] = np.nan
    b[0, 5:9, 10:60] = -1
    return [a, b], [{"nodata": 0}, {"nodata": -1}]


def valid_bands(arrays, profiles):
    for a, p in zip(arrays, profiles):
        for band in a:
            v = band[(band != p["nodata"]) & ~np.isnan(band.astype(np.float64))]
            yield v.astype(np.float64)


@pytest.mark.parametrize("workers,tile_size", TILINGS)
def test_statistics_match_numpy(workers, tile_size):
    arrays, profiles = masked_inputs()
    stats = run_reduce(workers, tile_size, arrays, filters.statistics(), profiles)
    refs = list(valid_bands(arrays, profiles))
    assert len(stats) == 3
    for s, v in zip(stats, refs):
        assert 0 < s["count"] == v.size < 70 * 90
        assert s["min"] == v.min() and s["max"] == v.max()
        assert s["sum"] == math.fsum(v)  # exact sum, rounded once
        exact_mean = sum(map(Fraction, v.tolist())) / v.size
        assert math.isclose(s["mean"], float(exact_mean), rel_tol=1e-15)
        assert math.isclose(s["stddev"], float(np.std(v)), rel_tol=1e-12)


def test_statistics_tiling_independent_and_empty_band():
    arrays, profiles = masked_inputs()
    assert filters.statistics(name="stats").name == "stats" and filters.min_max(name="mm").name == "mm"
    runs = [run_reduce(w, t, arrays, filters.statistics(), profiles) for w, t in [(1, 16), (2, 40), (2, 23)]]
    assert runs[0] == runs[1] == runs[2]  # bitwise: == on floats
    empty = run_reduce(2, 16, [np.zeros((1, 40, 40), np.uint8)], filters.statistics(), [{"nodata": 0}])
    assert empty[0]["count"] == 0 and math.isnan(empty[0]["mean"]) and math.isnan(empty[0]["min"])


@pytest.mark.parametrize("workers,tile_size", TILINGS)
def test_histogram_matches_numpy(workers, tile_size):
    arrays, profiles = masked_inputs()
    refs = list(valid_bands(arrays, profiles))
    edges = np.array([-3.0, -0.5, 0.0, 1.0, 2.5, 100.0, 2000.0, 3999.0])  # 3999: a sample on the closed last edge
    h = run_reduce(workers, tile_size, arrays, filters.histogram(edges), profiles)
    assert h.dtype == np.int64 and h.shape == (3, 7)
    for row, v in zip(h, refs):
        np.testing.assert_array_equal(row, np.histogram(v, bins=edges)[0])
    assert h[:2, -1].sum() > 0
    h = run_reduce(workers, tile_size, arrays, filters.histogram(16, range=(-2.0, 3000.0)), profiles)
    for row, v in zip(h, refs):
        np.testing.assert_array_equal(row, np.histogram(v, bins=16, range=(-2.0, 3000.0))[0])


def test_histogram_tiling_independent():
    arrays, profiles = masked_inputs()
    runs = [run_reduce(w, t, arrays, filters.histogram(50, range=(-4, 4000)), profiles)
            for w, t in [(1, 16), (2, 40), (2, 23)]]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def test_ndwi_is_the_normalized_difference():
    a = np.random.default_rng(5).integers(1, 4000, size=(4, 70, 90), dtype=np.int16)
    out, = run_map(2, 16, [a], filters.ndwi(green=2, nir=4))
    g, n = a[1].astype(np.float32), a[3].astype(np.float32)
    np.testing.assert_array_equal(out[0], (g - n) / (g + n))


def test_convolve_errors():
    with pytest.raises(ValueError, match="2-D"):
        filters.convolve(np.ones(3))
    with pytest.raises(ValueError, match="real numbers"):
        filters.convolve(np.ones((3, 3), dtype=np.complex64))
    with pytest.raises(ValueError, match="empty"):
        filters.convolve(np.ones((0, 3)))
    with pytest.raises(ValueError, match="not finite"):
        filters.convolve(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="mode"):
        filters.convolve(np.ones((3, 3)), mode="bounce")
    with pytest.raises(ValueError, match="unsupported pixel type"):
        filters.convolve(np.ones((3, 3)), dtype=np.complex128)


def test_kernel_reduce_errors(ctx):
    with pytest.raises(ValueError, match="reduction"):
        filters.kernel_reduce(1, "median")
    with pytest.raises(ValueError, match="mode"):
        filters.kernel_reduce(1, mode="bounce")
    img = ctx.constant({"width": 30, "height": 20}, 1)
    with pytest.raises(ValueError, match="radius -1"):  # the engine's message, at map time
        ctx.map(img, filters.kernel_reduce(-1))


def test_statistics_errors(ctx):
    img = ctx.constant({"width": 30, "height": 20}, 1)
    with pytest.raises(ValueError, match="combine_fn"):
        ctx.reduce(img, filters.statistics(), lambda a, b: a)
    other = ctx.constant({"width": 31, "height": 20}, 1)
    with pytest.raises(ValueError, match="same width and height"):  # the engine's message
        ctx.reduce([img, other], filters.statistics())
    with pytest.raises(TypeError, match="fn must be"):
        ctx.map(img, filters.statistics())  # a reduction is not a map filter


def test_histogram_errors():
    with pytest.raises(ValueError, match="range"):
        filters.histogram(10)
    with pytest.raises(ValueError, match="bins must be >= 1"):
        filters.histogram(0, range=(0, 1))
    with pytest.raises(ValueError, match="lo < hi"):
        filters.histogram(4, range=(1, 1))
    with pytest.raises(ValueError, match="decrease at 2"):
        filters.histogram([0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="not finite"):
        filters.histogram([0.0, np.inf])
    with pytest.raises(ValueError, match="2 or more"):
        filters.histogram([1.0])
    with pytest.raises(ValueError, match="only for a bin count"):
        filters.histogram([0.0, 1.0], range=(0, 1))
