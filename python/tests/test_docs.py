"""The README's Python example runs as written (on a generated date_1.tif)."""
import os
import re

import numpy as np

import eoscale

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def test_readme_python_example(tmp_path, monkeypatch):
    with open(README) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    with eoscale.Context() as c:
        c.write(c.from_array(rng.integers(1, 3000, (4, 300, 300), dtype=np.int16)), "date_1.tif")
        c.run()
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
    with eoscale.Context() as c:
        mask = c.read(c.open("water.tif"))
        src = c.read(c.open("date_1.tif")).astype(np.float32)
    g, n = src[1], src[3]
    np.testing.assert_array_equal(mask[0], ((g - n) / (g + n) > 0.2).astype(np.uint8))
    # the drop-in example (EOScale's API): the NDWI stored into its float32 profile
    with eoscale.Context() as c:
        ndwi = c.read(c.open("ndwi.tif"))
    g64, n64 = src[1].astype(np.float64), src[3].astype(np.float64)
    np.testing.assert_array_equal(ndwi[0], ((g64 - n64) / (g64 + n64 + 0.001)).astype(np.float32))
