import faulthandler
import sys

import numpy as np
import pytest

import eoscale

# A deadlock fails the test run with every thread's stack instead of hanging CI.
faulthandler.dump_traceback_later(100, exit=True)


@pytest.fixture
def ctx():
    with eoscale.Context(workers=2, memory_budget="64MiB", tile_size=64) as c:
        yield c


@pytest.fixture
def s2_like():
    """A 4-band int16 image (200 x 300), Sentinel-2-like reflectances."""
    rng = np.random.default_rng(14)
    return rng.integers(1, 4000, size=(4, 200, 300), dtype=np.int16)


@pytest.fixture
def tif(tmp_path, s2_like):
    """s2_like written as a GeoTIFF by the engine itself."""
    path = str(tmp_path / "s2.tif")
    with eoscale.Context(workers=2) as c:
        img = c.from_array(s2_like, {"geotransform": (600000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0), "nodata": 0})
        c.write(img, path)
        c.run()
    return path
