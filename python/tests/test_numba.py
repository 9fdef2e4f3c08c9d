"""A numba cfunc as a native tile function: run on the engine's threads without the GIL."""

import threading

import numpy as np
import pytest

import eoscale
from eoscale import filters

numba = pytest.importorskip("numba")


@numba.cfunc(filters.KERNEL_SIGNATURE, nopython=True)
def box3(ins, outs, dims):
    """Mean of the 3 x 3 window over the samples the tile has (the margin is clamped at the border)."""
    b, r, c = dims[2], dims[3], dims[4]
    ob, orows, ocols = dims[5], dims[6], dims[7]
    top, left = dims[12], dims[15]
    a = numba.carray(ins[0], (b, r, c), dtype=np.float32)
    o = numba.carray(outs[0], (ob, orows, ocols), dtype=np.float32)
    for y in range(orows):
        for x in range(ocols):
            s = np.float32(0.0)
            n = 0
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    yy, xx = y + top + dy, x + left + dx
                    if 0 <= yy < r and 0 <= xx < c:
                        s += a[0, yy, xx]
                        n += 1
            o[0, y, x] = s / n
    return 0


@numba.cfunc(filters.KERNEL_SIGNATURE, nopython=True)
def fails(ins, outs, dims):
    return 7 if dims[8] > 0 else 0  # fails on tiles not in the first column


def reference(a):
    pad = np.pad(a, 1)
    ones = np.pad(np.ones_like(a), 1)
    s = sum(pad[dy:dy + a.shape[0], dx:dx + a.shape[1]] for dy in range(3) for dx in range(3))
    n = sum(ones[dy:dy + a.shape[0], dx:dx + a.shape[1]] for dy in range(3) for dx in range(3))
    return s / n


def test_numba_kernel_with_margin_matches_numpy():
    a = np.random.default_rng(4).random((150, 170)).astype(np.float32)
    with eoscale.Context(workers=2, tile_size=32) as ctx:
        out = ctx.map(ctx.from_array(a), filters.numba_kernel(box3, margin=1))[0]
        assert out.profile["dtype"] == "float32" and out.profile["count"] == 1
        got = ctx.read(out)[0]
    np.testing.assert_allclose(got, reference(a), rtol=1e-5)


def test_numba_kernel_runs_while_another_thread_holds_the_gil():
    stop = threading.Event()
    spins = [0]

    def spin():  # pure Python: holds the GIL except at the interpreter's switch points
        while not stop.is_set():
            spins[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        with eoscale.Context(workers=2, tile_size=64) as ctx:
            img = ctx.constant({"width": 400, "height": 300, "count": 1, "dtype": "float32"}, 2.0)
            got = ctx.read(ctx.map(img, filters.numba_kernel(box3, margin=1))[0])
    finally:
        stop.set()
        t.join()
    assert (got == 2.0).all() and spins[0] > 0


def test_numba_kernel_failure_is_an_error(tmp_path):
    with eoscale.Context(workers=2, tile_size=32) as ctx:
        out = ctx.map(ctx.from_array(np.zeros((64, 64), np.float32)), filters.numba_kernel(fails))[0]
        ctx.write(out, str(tmp_path / "x.tif"))
        with pytest.raises(RuntimeError, match="returned 7"):
            ctx.run()
    assert not (tmp_path / "x.tif").exists()
    with pytest.raises(ValueError):
        filters.cfunc(0, "float32")
