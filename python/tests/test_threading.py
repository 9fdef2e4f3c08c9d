import threading
import time

import numpy as np

import eoscale
from eoscale import filters


def run_python_filter(workers, data):
    with eoscale.Context(workers=workers, tile_size=32) as ctx:
        img = ctx.from_array(data)

        def f(tile):
            a = tile.inputs[0].astype(np.float64)
            top, right, bottom, left = tile.margins
            _, h, w = tile.outputs[0].shape
            # Neighbour differences through the margin, then a little pure-Python work.
            tile.outputs[0][:] = a[:, top:top + h, left:left + w] * 2 - a[:, :h, :w]
            sum(range(200))

        out = ctx.map(img, f, margin=2, profiles=[{"dtype": "float64"}])[0]
        return ctx.read(out), ctx.last_run_stats


def test_two_workers_same_output_as_one():
    data = np.random.default_rng(1).random((3, 150, 170)).astype(np.float32)
    one, s1 = run_python_filter(1, data)
    two, s2 = run_python_filter(2, data)
    assert s1["workers"] == 1 and s2["workers"] == 2
    np.testing.assert_array_equal(one, two)


def test_native_filter_while_another_thread_holds_the_gil():
    stop = threading.Event()
    spins = [0]

    def spin():  # pure Python: holds the GIL except at the interpreter's switch points
        while not stop.is_set():
            spins[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        with eoscale.Context(workers=2, tile_size=64) as ctx:
            img = ctx.constant({"width": 600, "height": 600, "count": 4, "dtype": "int16"}, 100)
            nd = ctx.map(img, filters.ndwi(green=2, nir=4))[0]
            e = ctx.map(nd, filters.expression("im1b1 > -1", dtype="uint8"))[0]
            a = ctx.read(e)
    finally:
        stop.set()
        t.join()
    assert (a == 1).all()
    assert spins[0] > 0


def test_run_in_a_thread_while_python_runs_in_another():
    data = np.ones((1, 300, 300), dtype=np.float32)
    result = {}

    def worker():
        with eoscale.Context(workers=2, tile_size=32) as ctx:
            out = ctx.map(ctx.from_array(data), lambda t: t.inputs[0] + 1)[0]
            result["a"] = ctx.read(out)

    th = threading.Thread(target=worker)
    th.start()
    n = 0
    while th.is_alive():  # this thread keeps running Python code meanwhile
        n += 1
        time.sleep(0)
    th.join()
    assert (result["a"] == 2).all()


def test_context_used_by_two_threads_at_once():
    with eoscale.Context(workers=1, tile_size=16) as ctx:
        started = threading.Event()
        release = threading.Event()

        def slow(tile):
            started.set()
            release.wait(10)

        out = ctx.map(ctx.constant({"width": 16, "height": 16}, 0), slow)[0]
        errors = []
        th = threading.Thread(target=lambda: ctx.read(out))
        th.start()
        started.wait(10)
        try:
            ctx.constant({"width": 8, "height": 8}, 0)
        except RuntimeError as e:
            errors.append(str(e))
        release.set()
        th.join()
        assert errors and "context in use" in errors[0]
