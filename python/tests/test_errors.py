import gc

import numpy as np
import pytest

import eoscale
from eoscale import filters


def test_missing_file(ctx, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tif"):
        ctx.open(str(tmp_path / "nope.tif"))


def test_invalid_arguments(ctx, tif):
    with pytest.raises(ValueError, match="band"):
        ctx.open(tif, bands=[5])
    with pytest.raises(ValueError, match="unknown key 'colour'"):
        ctx.constant({"width": 4, "height": 4, "colour": 1})
    with pytest.raises(ValueError, match="unsupported pixel type"):
        ctx.from_array(np.zeros((4, 4), dtype=np.complex64))
    with pytest.raises(ValueError, match="position"):
        filters.expression("im1b2 + * 3")
    with pytest.raises(ValueError):
        eoscale.Context(workers=0)
    with pytest.raises(ValueError, match="threshold"):
        filters.threshold(1, op="~")


def test_memory_error(ctx):
    huge = ctx.constant({"width": 1 << 20, "height": 1 << 20, "count": 8, "dtype": "float64"}, 0)
    with pytest.raises(MemoryError):
        ctx.read(huge)


def test_exception_in_python_filter_fails_the_run(ctx, tmp_path):
    img = ctx.constant({"width": 100, "height": 100}, 1)

    def boom(tile):
        if tile.index == 3:
            raise KeyError("no such band 'swir'")

    out = ctx.map(img, boom)[0]
    ctx.write(out, str(tmp_path / "o.tif"))
    with pytest.raises(RuntimeError, match="filter 'boom'.*KeyError.*no such band 'swir'"):
        ctx.run()
    assert not (tmp_path / "o.tif").exists()  # all outputs or none

    def bad_value(tile):
        raise ValueError("threshold must be positive")

    with pytest.raises(ValueError, match="threshold must be positive"):
        ctx.read(ctx.map(img, bad_value)[0])
    with pytest.raises(ValueError, match="does not fit"):
        ctx.read(ctx.map(img, lambda t: np.zeros((3, 3)))[0])
    with pytest.raises(RuntimeError, match="combine.*ZeroDivisionError"):
        ctx.reduce(img, lambda t: 1, lambda a, b: a / 0).get()


def test_views_do_not_outlive_the_call(ctx):
    img = ctx.from_array(np.arange(100 * 100, dtype=np.float32).reshape(100, 100))
    kept = {}

    def keep(tile):
        if tile.index == 0:
            kept["tile"] = tile
            kept["input"] = tile.inputs[0]
            kept["view"] = tile.inputs[0][:, 1:3, 1:3]  # a view of a view
            kept["output"] = tile.outputs[0]
        tile.outputs[0][:] = tile.inputs[0]

    ctx.read(ctx.map(img, keep)[0])
    # Churn the memory the run used.
    for _ in range(3):
        ctx.read(ctx.map(ctx.constant({"width": 100, "height": 100, "dtype": "float32"}, -1), lambda t: None)[0])
    gc.collect()
    for attr in ("inputs", "outputs", "window", "margins", "index"):
        with pytest.raises(RuntimeError, match="tile used after its call returned"):
            getattr(kept["tile"], attr)
    with pytest.raises(RuntimeError, match="after its call"):
        kept["tile"].stable(0)
    # Arrays kept by the filter are NumPy's own copies: still the tile's values, never freed memory.
    assert kept["input"].shape == (1, 64, 64)
    np.testing.assert_array_equal(kept["input"][0, 0, :3], [0, 1, 2])
    np.testing.assert_array_equal(kept["view"][0], [[101, 102], [201, 202]])
    with pytest.raises(ValueError):
        kept["input"][0, 0, 0] = 5  # inputs are read-only


def test_closed_context(tmp_path):
    ctx = eoscale.Context()
    img = ctx.constant({"width": 8, "height": 8}, 0)
    red = ctx.reduce(img, lambda t: 0, lambda a, b: a)
    ctx.close()
    with pytest.raises(RuntimeError, match="closed"):
        ctx.read(img)
    with pytest.raises(RuntimeError):
        red.get()


def test_context_used_from_its_own_filter(ctx):
    img = ctx.constant({"width": 8, "height": 8}, 0)

    def reentrant(tile):
        ctx.constant({"width": 8, "height": 8}, 0)

    with pytest.raises(RuntimeError, match="context in use"):
        ctx.read(ctx.map(img, reentrant)[0])
