"""EOScale's API (eoscale.manager, eoscale.eo_executors, eoscale.filters.*) on the engine, against
EOScale's documented behaviours: tiles and strips, margins, tile_max_size, map/reduce, release,
write round trip, and the drop-in's own promise: keys are lazy and intermediates streamed."""

import os
import threading

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")  # the drop-in's profiles are rasterio's (python3-rasterio)
pytest.importorskip("scipy")
from rasterio.transform import Affine  # noqa: E402
from scipy.ndimage import generic_filter, uniform_filter  # noqa: E402

import eoscale.eo_executors as eoexe  # noqa: E402
from eoscale.filters.concatenate_images import concatenate_images
from eoscale.filters.generic_kernel import generic_kernel_filter
from eoscale.filters.stats_minmax import minmax_filter
from eoscale.manager import EOContextManager
from eoscale.utils import MpTile

H, W = 190, 230
GEO = {"crs": rasterio.crs.CRS.from_epsg(32631), "transform": Affine(5.0, 0.0, 300000.0, 0.0, -5.0, 4800000.0)}


@pytest.fixture
def data():
    return np.random.default_rng(8).normal(100, 30, size=(3, H, W)).astype(np.float32)


@pytest.fixture
def tif(tmp_path, data):
    path = str(tmp_path / "in.tif")
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=3, dtype="float32", nodata=-1.0,
                       **GEO) as d:
        d.write(data)
    return path


def manager(tile_mode=True, tile_max_size=0, workers=2):
    return EOContextManager(nb_workers=workers, tile_mode=tile_mode, tile_max_size=tile_max_size, progress=False)


class Recorder:
    """An EOScale filter that records the shapes it is given (it runs on the engine's threads) and returns
    the sum of its inputs' first bands."""

    def __init__(self):
        self.shapes = []
        self.lock = threading.Lock()

    def __call__(self, input_buffers, input_profiles, params):
        with self.lock:
            self.shapes.append(input_buffers[0].shape)
        return sum(b[0].astype(np.float64) for b in input_buffers)


def test_compute_mp_tiles_and_strips_follow_eoscale(tif):
    with manager(tile_max_size=0) as m:
        key = m.open_raster(tif)
        for workers, margin, tile_mode, tmax in [(4, 0, True, 0), (3, 5, True, 0), (4, 2, True, 40),
                                                 (4, 3, False, 0), (2, 1, False, 70)]:
            m.tile_max_size = tmax
            tiles = eoexe.compute_mp_tiles([key], margin, workers, tile_mode, m)
            covered = np.zeros((H, W), int)
            for t in tiles:
                assert isinstance(t, MpTile)
                covered[t.start_y:t.end_y + 1, t.start_x:t.end_x + 1] += 1
                assert t.top_margin == min(margin, t.start_y) and t.left_margin == min(margin, t.start_x)
                assert t.bottom_margin == min(margin, H - 1 - t.end_y)
                assert t.right_margin == min(margin, W - 1 - t.end_x)
            assert (covered == 1).all()  # every pixel once
            if tile_mode:
                side = int(np.sqrt(W * H // workers))
                side = min(side, tmax) if tmax else side
                assert max(t.end_x - t.start_x + 1 for t in tiles) == side
            else:
                assert len(tiles) == workers and all(t.start_x == 0 and t.end_x == W - 1 for t in tiles)
                rows = tmax if tmax else H // workers
                assert [t.start_y for t in tiles] == [i * rows for i in range(workers)]


@pytest.mark.parametrize("tile_mode,tile_max_size", [(True, 48), (False, 40), (True, 0)])
def test_margins_tiles_and_strips(tif, data, tile_mode, tile_max_size):
    margin = 3
    rec = Recorder()
    with manager(tile_mode, tile_max_size) as m:
        key = m.open_raster(tif)
        box = lambda bufs, profiles, params: uniform_filter(bufs[0], size=(1, 7, 7), mode="constant")
        out = eoexe.n_images_to_m_images_filter(inputs=[key], image_filter=box, stable_margin=margin,
                                                context_manager=m)
        seen = eoexe.n_images_to_m_images_filter(inputs=[key], image_filter=rec, context_manager=m)
        got = m.get_array(out[0])
        m.get_array(seen[0])
    # Whole image, zero padding at the border only: the tiles' margins hold the real neighbours.
    np.testing.assert_allclose(got, uniform_filter(data, size=(1, 7, 7), mode="constant"), rtol=1e-6)
    assert len(rec.shapes) > 1 or tile_max_size == 0  # the default tiles of a small image: one may do
    for bands, rows, cols in rec.shapes:  # margin 0: what the filter gets is the stable window
        if tile_mode:
            assert (cols < W or tile_max_size == 0) and (tile_max_size == 0 or (rows <= tile_max_size and cols <= tile_max_size))
        else:
            assert cols == W and (tile_max_size == 0 or rows <= tile_max_size)


def test_keys_are_lazy_and_intermediates_streamed(tmp_path):
    calls = []
    def step(bufs, profiles, params):
        calls.append(1)
        return bufs[0] + params["add"]
    size = 1024
    with manager(tile_max_size=128) as m:
        key = m.create_image({"width": size, "height": size, "count": 1, "dtype": "float32", "nodata": None})
        for i in range(3):
            key = eoexe.n_images_to_m_images_filter(inputs=[key], image_filter=step, filter_parameters={"add": i + 1},
                                                    context_manager=m)[0]
        assert not calls  # nothing computed yet
        assert m.get_profile(key)["width"] == size
        m.write(key, str(tmp_path / "out.tif"))
        stats = m.context.last_run_stats
    assert len(calls) == 3 * 64
    with rasterio.open(tmp_path / "out.tif") as d:
        assert (d.read() == 6).all()
    whole = size * size * 4
    assert stats["peak_live_bytes"] < whole  # no intermediate (4 MiB each) was ever whole


def test_write_round_trip_and_profile(tif, data, tmp_path):
    with manager() as m:
        key = m.open_raster(tif)
        profile = m.get_profile(key)
        assert profile["transform"] == GEO["transform"] and profile["crs"] == GEO["crs"]
        assert (profile["count"], profile["height"], profile["width"], profile["nodata"]) == (3, H, W, -1.0)
        profile["count"] = 99  # a copy
        assert m.get_profile(key)["count"] == 3
        m.write(key, str(tmp_path / "copy.tif"))
        np.testing.assert_array_equal(m.get_array(key), data)
        np.testing.assert_array_equal(m.get_array(key, MpTile(10, 20, 19, 24, 2, 1, 3, 0)), data[:, 18:25, 7:21])
    with rasterio.open(tmp_path / "copy.tif") as d:
        np.testing.assert_array_equal(d.read(), data)
        assert d.transform == GEO["transform"] and d.crs == GEO["crs"] and d.nodata == -1.0
    assert sorted(os.listdir(tmp_path)) == ["copy.tif", "in.tif"]  # no temporary left


def test_failed_write_leaves_nothing(tif, tmp_path):
    calls = []
    def boom(bufs, profiles, params):  # fails on its third tile: the first ones may be written already
        calls.append(1)
        if len(calls) == 3:
            raise KeyError("no such band")
        return bufs[0]
    with manager(tile_max_size=64) as m:
        out = eoexe.n_images_to_m_images_filter(inputs=[m.open_raster(tif)], image_filter=boom, context_manager=m)
        with pytest.raises(RuntimeError, match="no such band"):
            m.write(out[0], str(tmp_path / "out.tif"))
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]


def test_release_and_memviews(tif, data):
    with manager() as m:
        key = m.open_raster(tif)
        double = eoexe.n_images_to_m_images_filter(inputs=[key], image_filter=lambda b, p, q: b[0] * 2,
                                                   context_manager=m)[0]
        view = m.create_memview(key, data[:, :10, :10], {"width": 10, "height": 10, "count": 3, "dtype": "float32"})
        assert m.get_array(view) is not None and m.get_array(view).shape == (3, 10, 10)
        m.release(key)  # EOScale's pipeline releases inputs of keys not yet written: they still compute
        with pytest.raises(KeyError):
            m.get_array(key)
        with pytest.raises(KeyError):
            m.get_profile(view)  # memviews go with their key
        np.testing.assert_array_equal(m.get_array(double), data * 2)
        with pytest.raises(KeyError):
            m.release(key)
        with pytest.raises(TypeError):
            m.get_array(42)


def test_get_array_makes_the_key_an_array_filters_then_see(data):
    with manager(tile_max_size=64) as m:
        key = m.create_image({"width": W, "height": H, "count": 1, "dtype": "float64", "nodata": None})
        arr = m.get_array(key)
        assert arr.shape == (1, H, W) and not arr.any()
        arr[0] = data[0]  # EOScale's idiom: fill an image through its array
        out = eoexe.n_images_to_m_images_filter(inputs=[key], image_filter=lambda b, p, q: b[0] + 1,
                                                context_manager=m)
        np.testing.assert_array_equal(m.get_array(out[0]), data[:1].astype(np.float64) + 1)
        new = m.update_profile(key, dict(m.get_profile(key), nodata=-5.0))
        assert m.get_profile(new)["nodata"] == -5.0
        with pytest.raises(KeyError):
            m.get_profile(key)
        with pytest.raises(ValueError):
            m.update_profile(new, dict(m.get_profile(new), dtype="uint8"))


def test_several_outputs_profiles_and_casting(tif, data):
    def split(bufs, profiles, params):
        return [bufs[0][0], bufs[0][1] * params["k"]]
    def profiles(input_profiles, params):
        first = dict(input_profiles[0], count=1, dtype="int16")
        return [first, dict(input_profiles[0], count=2)]  # a 1-band output broadcast over 2 bands
    with manager(tile_max_size=50) as m:
        a, b = eoexe.n_images_to_m_images_filter(inputs=[m.open_raster(tif)], image_filter=split,
                                                 filter_parameters={"k": 3}, generate_output_profiles=profiles,
                                                 context_manager=m)
        ga, gb = m.get_array(a), m.get_array(b)
    ref = np.zeros((1, H, W), np.int16)
    ref[...] = data[0]  # NumPy's cast, as EOScale's default_reduce
    np.testing.assert_array_equal(ga, ref)
    np.testing.assert_array_equal(gb, np.broadcast_to(data[1] * 3, (2, H, W)))


def test_outputs_cast_and_broadcast_as_numpy_assignment(tif, data):
    """EOScale stores a filter's outputs with NumPy's assignment: any cast (a float into uint8 wraps and
    truncates), a bool mask into float32, one band broadcast over the profile's; outputs the filter does not
    return stay zeros."""
    def fn(bufs, profiles, params):
        b = bufs[0].astype(np.float64)
        return [b[0] * 2.7 - 40.0, b[1] > 100]
    def profiles(input_profiles, params):
        p = input_profiles[0]
        return [dict(p, count=1, dtype="uint8"), dict(p, count=3, dtype="float32"), dict(p, count=1)]
    with manager(tile_max_size=50) as m:
        a, b, c = eoexe.n_images_to_m_images_filter(inputs=[m.open_raster(tif)], image_filter=fn,
                                                    generate_output_profiles=profiles, context_manager=m)
        ga, gb, gc = m.get_array(a), m.get_array(b), m.get_array(c)
    ref = np.zeros((1, H, W), np.uint8)
    ref[...] = data[0].astype(np.float64) * 2.7 - 40.0
    np.testing.assert_array_equal(ga, ref)
    np.testing.assert_array_equal(gb, np.broadcast_to((data[1] > 100).astype(np.float32), (3, H, W)))
    np.testing.assert_array_equal(gc, np.zeros((1, H, W), data.dtype))


def test_scalars_map_reduce(tif, data):
    def minmax(bufs, profiles, params):
        return [bufs[0].min(), bufs[0].max()]
    tiles = []
    def fold(out, chunk, tile):
        tiles.append(tile)
        out[0], out[1] = min(out[0], chunk[0]), max(out[1], chunk[1])
    with manager(tile_max_size=64) as m:
        key = m.open_raster(tif)
        r = eoexe.n_images_to_m_scalars(inputs=[key], image_filter=minmax, concatenate_filter=fold,
                                        nb_output_scalars=2, output_scalars=[np.inf, -np.inf], context_manager=m)
        assert r == [data.min(), data.max()]
        covered = np.zeros((H, W), int)
        for t in tiles:
            covered[t.start_y:t.end_y + 1, t.start_x:t.end_x + 1] += 1
        assert len(tiles) > 1 and (covered == 1).all()
        assert minmax_filter(m, [tif]) == [min(0.0, data.min()), max(0.0, data.max())]  # EOScale starts at 0
        with pytest.raises(ValueError):
            eoexe.n_images_to_m_scalars(inputs=[key], image_filter=minmax, concatenate_filter=None,
                                        nb_output_scalars=2, context_manager=m)


def test_eoscale_filters(tif, data):
    with manager(tile_max_size=64) as m:
        key = m.open_raster(tif)
        cat = concatenate_images(m, [tif, key], as_type=np.float64)
        assert m.get_profile(cat)["count"] == 6
        np.testing.assert_array_equal(m.get_array(cat), np.concatenate([data, data]).astype(np.float64))
        out = generic_kernel_filter(m, [key], np.max, kernel_radius=2)
        np.testing.assert_array_equal(m.get_array(out[0]), generic_filter(data, np.max, size=(1, 5, 5),
                                                                          mode="constant", cval=0.0))


def test_concatenate_filter_gets_whole_outputs(tif, data):
    def place(outputs, chunks, tile):  # EOScale's custom reduce: whole outputs, the tile's coordinates
        outputs[0][:, tile.start_y:tile.end_y + 1, tile.start_x:tile.end_x + 1] = chunks[0] + 1
    with manager(tile_max_size=64) as m:
        out = eoexe.n_images_to_m_images_filter(inputs=[m.open_raster(tif)], image_filter=lambda b, p, q: b[0],
                                                concatenate_filter=place, stable_margin=2, context_manager=m)
        np.testing.assert_array_equal(m.get_array(out[0]), data + 1)


def test_errors(tif, tmp_path):
    with manager() as m:
        key = m.open_raster(tif)
        small = m.create_image({"width": 10, "height": 10, "count": 1, "dtype": "uint8"})
        with pytest.raises(ValueError, match="same width"):
            eoexe.n_images_to_m_images_filter(inputs=[key, small], image_filter=lambda b, p, q: b[0],
                                              context_manager=m)
        with pytest.raises(ValueError, match="At least one"):
            eoexe.n_images_to_m_images_filter(inputs=[], image_filter=lambda b, p, q: b[0], context_manager=m)
        for bad, match in [(lambda b, p, q: (b[0],), "list or a numpy array"),
                           (lambda b, p, q: b[0][:, 1:], "same height and width"),
                           (lambda b, p, q: b[0].__setitem__(0, 0), "read-only")]:
            out = eoexe.n_images_to_m_images_filter(inputs=[key], image_filter=bad, context_manager=m)
            with pytest.raises((ValueError, RuntimeError), match=match):
                m.get_array(out[0])
        with pytest.warns(UserWarning, match="not known"):
            m.write("eoscale/nothing", str(tmp_path / "x.tif"))
        assert not (tmp_path / "x.tif").exists()
