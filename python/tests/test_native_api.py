import os

import numpy as np
import pytest

import eoscale
from eoscale import filters


def test_parse_bytes():
    assert eoscale.parse_bytes("64MiB") == 64 << 20
    assert eoscale.parse_bytes("2GiB") == 2 << 30
    assert eoscale.parse_bytes("500MB") == 500 * 10**6
    assert eoscale.parse_bytes(1234) == 1234
    assert eoscale.parse_bytes(None) == 0
    with pytest.raises(ValueError):
        eoscale.parse_bytes("lots")
    with pytest.raises(ValueError):
        eoscale.Context(memory_budget=-1)


def test_from_array_read_round_trip(ctx, s2_like):
    img = ctx.from_array(s2_like)
    assert img.profile["count"] == 4 and img.profile["dtype"] == "int16"
    assert img.profile["width"] == 300 and img.profile["height"] == 200
    np.testing.assert_array_equal(ctx.read(img), s2_like)
    np.testing.assert_array_equal(ctx.read(img, window=(10, 20, 30, 5)), s2_like[:, 20:25, 10:40])
    two_d = ctx.from_array(s2_like[0].astype(np.float64))
    assert ctx.read(two_d).shape == (1, 200, 300)


def test_from_array_keeps_the_array_alive(ctx):
    img = ctx.from_array(np.full((50, 60), 7, dtype=np.uint16))  # no other reference
    import gc
    gc.collect()
    assert (ctx.read(img) == 7).all()


def test_open_bands_and_write_round_trip(ctx, tif, s2_like, tmp_path):
    img = ctx.open(tif, bands=[4, 2])
    assert img.profile["count"] == 2
    assert img.profile["geotransform"] == (600000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0)
    assert img.profile["nodata"] == 0
    np.testing.assert_array_equal(ctx.read(img), s2_like[[3, 1]])
    out = str(tmp_path / "copy.tif")
    ctx.write(img, out, options={"COMPRESS": "DEFLATE"})
    assert ctx.pending_outputs == [out]
    ctx.run()
    assert ctx.pending_outputs == []
    np.testing.assert_array_equal(ctx.read(ctx.open(out)), s2_like[[3, 1]])


def test_write_not_durable_gives_the_same_file(ctx, tif, s2_like, tmp_path):
    img = ctx.open(tif, bands=[2])
    (tmp_path / "out").mkdir()
    out = str(tmp_path / "out" / "scratch.tif")
    ctx.write(img, out, durable=False)
    ctx.run()
    np.testing.assert_array_equal(ctx.read(ctx.open(out)), s2_like[[1]])
    assert os.listdir(tmp_path / "out") == ["scratch.tif"]


def test_constant(ctx):
    img = ctx.constant({"width": 40, "height": 30, "count": 2, "dtype": "float32"}, 2.5)
    a = ctx.read(img)
    assert a.shape == (2, 30, 40) and a.dtype == np.float32 and (a == 2.5).all()


def box3(a):
    """3 x 3 mean over the last two axes, edges clamped (what a margin-1 filter sees at the border)."""
    p = np.pad(a.astype(np.float64), ((0, 0), (1, 1), (1, 1)), mode="edge")
    s = sum(p[:, dy:dy + a.shape[1], dx:dx + a.shape[2]] for dy in range(3) for dx in range(3))
    return (s / 9).astype(np.float32)


def test_python_map_with_margin(ctx, s2_like):
    img = ctx.from_array(s2_like)
    seen = []

    def smooth(tile):
        top, right, bottom, left = tile.margins
        x, y, w, h = tile.window
        a = tile.inputs[0]
        assert a.shape == (4, h + top + bottom, w + left + right)
        assert not a.flags.writeable
        seen.append((tile.index, tile.window, tile.margins))
        padded = np.pad(a.astype(np.float64), ((0, 0), (1 - top, 1 - bottom), (1 - left, 1 - right)), mode="edge")
        s = sum(padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))
        tile.outputs[0][:] = s / 9

    out = ctx.map(img, smooth, margin=1, profiles=[{"dtype": "float32"}])[0]
    assert out.profile["dtype"] == "float32" and out.profile["count"] == 4
    np.testing.assert_allclose(ctx.read(out), box3(s2_like), rtol=1e-6)
    assert len(seen) == 20  # 300 x 200 in 64-pixel tiles: 5 x 4
    assert (0, (0, 0, 64, 64), (0, 1, 1, 0)) in seen


def box_sum(tile):
    """3 x 3 sum (int32) with the edges clamped, of a margin-1 tile."""
    top, right, bottom, left = tile.margins
    x, y, w, h = tile.window
    p = np.pad(tile.inputs[0].astype(np.int32), ((0, 0), (1 - top, 1 - bottom), (1 - left, 1 - right)), mode="edge")
    return sum(p[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))


def test_grow_tiles_computes_a_margin_readers_input_grown_with_the_same_pixels(s2_like):
    """A per-pixel Python map read by a margin-1 filter: grown (the default), each call covers its tile and
    a ring of one pixel, so that the reader takes one tile; grow_tiles=False gathers the neighbours instead,
    and no pixel is computed twice. The pixels are the same."""
    results, pixels = {}, {}
    for grow in (True, False):
        covered = []

        def doubled(tile):
            covered.append(tile.window[2] * tile.window[3])
            return tile.inputs[0] * 2

        with eoscale.Context(workers=2, tile_size=64, grow_tiles=grow) as c:
            twice = c.map(c.from_array(s2_like), doubled)[0]
            results[grow] = c.read(c.map(twice, box_sum, margin=1, profiles=[{"dtype": "int32"}])[0])
            grown = [n["grown_by"] for n in c.last_run_stats["nodes"] if n["kind"] == "map"]
            assert grown == ([1, 0] if grow else [0, 0])
        pixels[grow] = sum(covered)
    p = np.pad(s2_like.astype(np.int32) * 2, ((0, 0), (1, 1), (1, 1)), mode="edge")
    expected = sum(p[:, dy:dy + 200, dx:dx + 300] for dy in range(3) for dx in range(3))
    np.testing.assert_array_equal(results[False], expected)
    np.testing.assert_array_equal(results[True], expected)
    assert pixels[False] == 300 * 200
    assert pixels[True] > 300 * 200


def test_python_map_returning_outputs_and_profile_callable(ctx, s2_like):
    img = ctx.from_array(s2_like)

    def profiles(ins):
        assert ins[0]["count"] == 4
        return [dict(ins[0], count=1, dtype="float32"), dict(ins[0], count=1, dtype="uint8")]

    ratio, mask = ctx.map(img, lambda t: (t.inputs[0][1] / t.inputs[0][3], t.inputs[0][0] > 2000),
                          profiles=profiles, name="ratio")
    np.testing.assert_allclose(ctx.read(ratio)[0], s2_like[1] / s2_like[3], rtol=1e-6)
    np.testing.assert_array_equal(ctx.read(mask)[0], (s2_like[0] > 2000).astype(np.uint8))
    assert "ratio" in ctx.to_dot()


def test_returned_outputs_of_any_layout(ctx, s2_like):
    """Returned arrays are copied by their strides: broadcast bands (stride 0), reversed rows and columns
    (negative strides), a transposed band axis, and a slice of a larger array."""
    img = ctx.from_array(s2_like)

    def fn(t):
        a = t.inputs[0]
        wide = np.concatenate([a, a], axis=2)  # a slice of it is not contiguous
        return (a[1], a[:, ::-1, ::-1], np.ascontiguousarray(a.transpose(1, 2, 0)).transpose(2, 0, 1),
                wide[:, :, a.shape[2]:])

    outs = ctx.map(img, fn, profiles=[{"count": 3}, {}, {}, {}])
    broadcast, flipped, transposed, sliced = (ctx.read(o) for o in outs)
    np.testing.assert_array_equal(broadcast, np.broadcast_to(s2_like[1], (3,) + s2_like.shape[1:]))
    # Flipped within each 64-pixel tile (the tiles of the ctx fixture), not over the image.
    for y in range(0, 200, 64):
        for x in range(0, 300, 64):
            np.testing.assert_array_equal(flipped[:, y:y + 64, x:x + 64], s2_like[:, y:y + 64, x:x + 64][:, ::-1, ::-1])
    np.testing.assert_array_equal(transposed, s2_like)
    np.testing.assert_array_equal(sliced, s2_like)


def test_returned_outputs_are_cast_by_the_casting_rule(ctx):
    """Returned arrays are cast into the outputs with NumPy's rule: same_kind by default (a float array into
    uint8 fails the run), any rule by name ("unsafe" casts as NumPy's assignment does)."""
    values = np.array([[300.7, -1.5, 2.5, 255.9]] * 3, dtype=np.float64)  # wraps, truncates as NumPy casts
    img = ctx.from_array(np.zeros((3, 4), np.uint8))
    bad = ctx.map(img, lambda t: values[:, :t.window[2]], name="floats")[0]
    with pytest.raises(RuntimeError, match="filter 'floats'.*Cannot cast.*same_kind"):
        ctx.read(bad)
    ok = ctx.map(img, lambda t: values[:, :t.window[2]], casting="unsafe")[0]
    np.testing.assert_array_equal(ctx.read(ok)[0], values.astype(np.uint8))
    with pytest.raises(ValueError, match="casting must be one of"):
        ctx.map(img, lambda t: None, casting="sometimes")
    with pytest.raises(ValueError, match="casting are set by a built-in filter"):
        ctx.map(img, filters.cast("float32"), casting="unsafe")


def test_outputs_never_asked_for_are_zeros(ctx, s2_like):
    """A function that neither returns nor touches tile.outputs leaves zeros, even in recycled tile buffers
    that held other values (the engine's buffers are not initialised; the arrays are made on demand)."""
    img = ctx.from_array(s2_like)
    filled = ctx.map(img, lambda t: t.inputs[0] + 1)[0]
    assert ctx.read(filled).min() >= 2  # the pool now holds tiles full of non-zero values
    asked = []

    def nothing(t):
        asked.append(t.index)

    out = ctx.map(img, nothing)[0]
    np.testing.assert_array_equal(ctx.read(out), np.zeros_like(s2_like))
    assert len(asked) == 20  # 200 x 300 in 64-pixel tiles: every tile was called

    def written_in_place(t):
        t.outputs[0][1] = 7  # the other bands stay zero

    inplace = ctx.read(ctx.map(img, written_in_place)[0])
    assert (inplace[1] == 7).all() and not inplace[[0, 2, 3]].any()


def test_chain_and_stats(ctx, s2_like, tmp_path):
    img = ctx.from_array(s2_like)
    ndwi = ctx.map(img, filters.ndwi(green=2, nir=4))[0]
    water = ctx.map(ndwi, filters.threshold(0.0, ">"))[0]
    ctx.write(water, str(tmp_path / "water.tif"))
    ctx.run()
    st = ctx.last_run_stats
    assert st["workers"] == 2 and st["tiles"] == 20 and st["peak_live_bytes"] > 0
    assert {n["kind"] for n in st["nodes"]} >= {"source", "map", "write"}
    g, n = s2_like[1].astype(np.float32), s2_like[3].astype(np.float32)
    expected = ((g - n) / (g + n)) > 0
    np.testing.assert_array_equal(ctx.read(ctx.open(str(tmp_path / "water.tif")))[0], expected.astype(np.uint8))
    dot = ctx.to_dot()
    assert dot.startswith("digraph") and "ndwi" in dot


def test_expression_and_fill_nodata(ctx, s2_like):
    img = ctx.from_array(s2_like)
    e = ctx.map(img, filters.expression("im1b1 + 2 * im1b2", dtype="float64"))[0]
    np.testing.assert_array_equal(ctx.read(e)[0], s2_like[0] + 2.0 * s2_like[1])
    holes = np.ones((60, 70), dtype=np.float32)
    holes[20:25, 30:33] = -9
    h = ctx.from_array(holes, {"nodata": -9.0})
    filled = ctx.read(ctx.map(h, filters.fill_nodata(max_search_distance=10))[0])
    np.testing.assert_allclose(filled[0], 1.0)
    mask = ctx.read(ctx.map(h, filters.nodata_mask())[0])[0]
    assert mask.sum() == 15


def test_reduce(ctx, s2_like):
    img = ctx.from_array(s2_like)
    total = ctx.reduce(img, lambda t: int(t.inputs[0].astype(np.int64).sum()), lambda a, b: a + b)
    assert total.get() == int(s2_like.astype(np.int64).sum())
    order = ctx.reduce(img, lambda t: [t.index], lambda a, b: a + b)
    assert order.get() == list(range(20))  # folded in tile order


def test_release(ctx, s2_like):
    img = ctx.from_array(s2_like)
    ctx.release(img)
    with pytest.raises(RuntimeError, match="released"):
        ctx.read(img)


def test_trace(tmp_path):
    with eoscale.Context(workers=1, trace=True, tile_size=64) as c:
        c.read(c.constant({"width": 100, "height": 100}, 1))
        c.write_trace(str(tmp_path / "t.json"))
    assert os.path.getsize(tmp_path / "t.json") > 0


def test_progress_callback():
    calls = []
    with eoscale.Context(workers=2, tile_size=32, progress=lambda n, d, t: calls.append((d, t))) as c:
        c.read(c.map(c.constant({"width": 100, "height": 100}, 1), lambda t: None)[0])
    assert calls and calls[-1][0] == calls[-1][1]


def test_builtin_reduction_and_more_filters(ctx, s2_like):
    img = ctx.from_array(s2_like)
    assert ctx.reduce(img, filters.min_max()).get() == (float(s2_like.min()), float(s2_like.max()))
    with pytest.raises(ValueError, match="combine_fn"):
        ctx.reduce(img, filters.min_max(), lambda a, b: a)
    with pytest.raises(ValueError, match="combine_fn"):
        ctx.reduce(img, lambda t: 0)
    both = ctx.map([img, img], filters.concatenate("int16"))[0]
    assert both.profile["count"] == 8
    np.testing.assert_array_equal(ctx.read(both), np.concatenate([s2_like, s2_like]))
    u = ctx.map(ctx.from_array(s2_like[0].astype(np.float32)), filters.uniform(3))[0]
    assert u.profile["dtype"] == "float32"
    inner = ctx.read(u)[0, 1:-1, 1:-1]
    np.testing.assert_allclose(inner, box3(s2_like[:1])[0, 1:-1, 1:-1], rtol=1e-5)
