"""Progress bars (tqdm) and Ctrl-C: a KeyboardInterrupt during run() cancels the run cleanly."""

import os
import re
import signal
import threading
import time

import numpy as np
import pytest

import eoscale


TILES = 144  # 384^2 in tiles of 32: 144 x 20 ms on 2 workers, 1.4 s at least


def slow_chain(ctx, calls, started, size=384):
    img = ctx.from_array(np.ones((size, size), np.float32))
    def slow(tile):
        calls.append(1)
        started.set()
        time.sleep(0.02)  # without the GIL: the main thread can take the signal
        tile.outputs[0][:] = tile.stable(0) * 2
    return ctx.map(img, slow)[0]


def interrupt_when(started):
    """SIGINT to this process once the run has started (a thread, as a terminal's Ctrl-C would come)."""
    def send():
        started.wait(10)
        os.kill(os.getpid(), signal.SIGINT)
    t = threading.Thread(target=send)
    t.start()
    return t


def test_ctrl_c_cancels_the_run(tmp_path):
    calls, started = [], threading.Event()
    out = str(tmp_path / "out.tif")
    with eoscale.Context(workers=2, tile_size=32) as ctx:
        img = slow_chain(ctx, calls, started)
        ctx.write(img, out)
        sender = interrupt_when(started)
        with pytest.raises(KeyboardInterrupt):
            ctx.run()
        sender.join()
        assert 0 < len(calls) < TILES  # stopped early
        assert sorted(os.listdir(tmp_path)) == []  # nothing written, no temporary left
        assert ctx.pending_outputs == []
        # the context is usable afterwards
        ctx.write(ctx.map(ctx.from_array(np.ones((64, 64), np.float32)), lambda t: t.inputs[0] * 3)[0], out)
        ctx.run()
        np.testing.assert_array_equal(ctx.read(ctx.open(out)), np.full((1, 64, 64), 3, np.float32))


def test_ctrl_c_cancels_read():
    calls, started = [], threading.Event()
    with eoscale.Context(workers=2, tile_size=32) as ctx:
        img = slow_chain(ctx, calls, started)
        sender = interrupt_when(started)
        with pytest.raises(KeyboardInterrupt):
            ctx.read(img)
        sender.join()
        assert 0 < len(calls) < TILES


def test_tqdm_bar(capfd):
    pytest.importorskip("tqdm")
    with eoscale.Context(workers=2, tile_size=64, progress=True) as ctx:
        img = ctx.from_array(np.ones((128, 256), np.float32))
        assert ctx.reduce(img, eoscale.filters.min_max()).get() == (1.0, 1.0)
    err = capfd.readouterr().err
    done = re.findall(r"100%\|.*?\| (\d+)/(\d+) ", err)
    assert done and done[-1][0] == done[-1][1] and int(done[-1][0]) >= 8  # 8 tiles of 64 x 64, each task counted


def test_progress_callback_counts_and_can_cancel():
    seen = []
    def progress(node, done, total):
        seen.append((done, total))
        return done < 3  # cancels after the third tile task
    with eoscale.Context(workers=1, tile_size=64, progress=progress) as ctx:
        img = ctx.from_array(np.ones((128, 256), np.float32))
        with pytest.raises(RuntimeError, match="(?i)cancel"):
            ctx.reduce(img, eoscale.filters.min_max()).get()
    assert seen and seen[-1][0] == 3 and all(t == seen[0][1] for _, t in seen)
