"""EOScale C++ from Python: tile-streaming raster processing with bounded memory.

    import eoscale
    with eoscale.Context(workers=2, memory_budget="64MiB") as ctx:
        img = ctx.open("in.tif", bands=[2, 4])
        ndwi = ctx.map(img, eoscale.filters.ndwi(green=1, nir=2))[0]
        ctx.write(ndwi, "ndwi.tif")
        ctx.run()

Nothing runs before run(), read(), or a reduction's get(). See docs/python.md.
"""

from . import _eoscale
from . import _progress
from . import filters
from ._units import parse_bytes
from ._eoscale import Image, Reduction, Tile

__all__ = ["Context", "Image", "Reduction", "Tile", "filters", "parse_bytes"]


class Context(_eoscale._Context):
    """A lazy graph of images, run on `workers` threads within `memory_budget`.

    workers: worker threads (>= 1).
    memory_budget: bytes (int) or a string such as "64MiB", "2GiB"; 0 or None
        lets the engine pick (64 MiB for most graphs).
    tile_size: side of square tiles (rows of strips with strips=True); 0 picks
        the streaming default.
    trace: record every tile task (write_trace()).
    grow_tiles: a filter read with a margin computes its tiles grown by it
        when that adds few pixels (at most 1.25 x, 2.25 x for a filter without
        a margin), so that memory does not grow with the image's width;
        False always gathers the neighbour tiles instead (no pixel computed
        twice: for a costly per-pixel Python function). Same pixels.
    progress: called as progress(node, tiles_done, tiles_total) on the
        engine's threads (with the GIL); returning False cancels the run.
        True (or "tqdm"): a tqdm bar per run when tqdm is installed (else
        nothing).

    Ctrl-C (KeyboardInterrupt) during run(), read() or a reduction's get()
    cancels the run: nothing is written, and the interrupt is raised.

    Used as a context manager, the context is closed on exit (its graph and
    the arrays it holds are dropped; handles made from it then raise).
    """

    def __init__(self, workers=2, memory_budget=0, tile_size=0, *, strips=False, trace=False, progress=None,
                 grow_tiles=True):
        if progress is True or progress == "tqdm":
            progress = _progress.TqdmProgress() if _progress.available() else None
        elif progress is False:
            progress = None
        super().__init__(workers=workers, memory_budget_bytes=parse_bytes(memory_budget), tile_size=tile_size,
                         strips=strips, trace=trace, progress=progress, grow_tiles=grow_tiles)
        self._bar = progress if isinstance(progress, _progress.TqdmProgress) else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self._bar is not None:
            self._bar.close()
        super().close()
