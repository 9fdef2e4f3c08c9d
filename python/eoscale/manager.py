# Drop-in for EOScale's module of the same name: its signatures, calling conventions and small helpers
# follow EOScale (https://github.com/CNES/eoscale), Copyright (c) 2024 Centre National d'Etudes
# Spatiales (CNES), Licensed under the Apache License, Version 2.0.
"""EOScale's EOContextManager (drop-in for eoscale.manager) over this engine.

Keys are strings, as in EOScale, but lazy: a key names an image of the engine's graph (a file,
a constant image, an array, or a filter's output), and nothing is computed before write(),
get_array() or a reduction's scalars need it. Intermediate images are streamed tile by tile
and never kept whole; get_array() is the one call that makes an image whole in memory (the
caller asked for it), after which the key holds that array, as EOScale's shared array.
See docs/python.md ("EOScale's API").
"""

import copy
import os
import uuid
import warnings

import numpy

import eoscale.utils as eoutils
from . import Context

KEY_PREFIX = "eoscale/"


class _Entry:
    """What a key names: an engine image, its rasterio profile, and its array once made whole."""

    def __init__(self, image, profile, array=None, parent=None):
        self.image = image          # eoscale.Image (None for a memview not yet given to the engine)
        self.profile = profile      # the rasterio profile (a dict), as the user sees it
        self.array = array          # numpy array once the key is in memory (get_array, memview)
        self.parent = parent        # memviews: the key they were made from (released with it)


class EOContextManager:
    """EOScale's context manager: shared images by key, run on this engine.

    nb_workers: worker threads of the engine (EOScale: worker processes).
    tile_mode: square tiles (True) or strips of whole rows (False, EOScale's default).
    tile_max_size: when > 0, the side of the tiles (the rows of a strip); 0 lets the engine pick
        its streaming default (a few hundred pixels, whole input blocks).
    memory_budget: the engine's budget for tiles in flight ("64MiB", bytes; 0 picks).
    progress: a tqdm bar per run (True, the default, when tqdm is installed, as EOScale shows
        one per filter), False for none, or a callable progress(node, done, total).
    """

    def __init__(self, nb_workers: int, tile_mode: bool = False, tile_max_size: int = 0, *,
                 memory_budget=0, progress=True):
        self.nb_workers = nb_workers
        self.tile_mode = tile_mode
        self.tile_max_size = tile_max_size
        self._memory_budget = memory_budget
        self._progress = progress
        self._entries = {}
        self._ctx = None
        self._new_context()

    # -- life cycle ---------------------------------------------------------------------------

    def _new_context(self):
        if self._ctx is not None:
            self._ctx.close()
        self._entries = {}
        self._ctx = Context(workers=self.nb_workers, memory_budget=self._memory_budget,
                            tile_size=max(0, int(self.tile_max_size or 0)), strips=not self.tile_mode,
                            progress=self._progress)

    def __enter__(self):
        self._start()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self._end()

    def _start(self) -> None:
        if self._entries:
            self._release_all()

    def _end(self) -> None:
        self._release_all()

    def _release_all(self):
        """Drops every key and the arrays they hold (a fresh engine context replaces the old one)."""
        self._new_context()

    @property
    def context(self):
        """The engine's eoscale.Context behind this manager (the native API)."""
        return self._ctx

    # -- keys ---------------------------------------------------------------------------------

    def _add(self, entry) -> str:
        key = KEY_PREFIX + str(uuid.uuid4())
        self._entries[key] = entry
        return key

    def _entry(self, key) -> _Entry:
        if not isinstance(key, str):
            raise TypeError(f"key parameters must be type 'str' not '{type(key).__name__}'")
        try:
            return self._entries[key]
        except KeyError:
            raise KeyError(key) from None

    def _image(self, key):
        """The engine image of `key` (a memview or an array gets one when first used)."""
        e = self._entry(key)
        if e.image is None:
            e.image = self._ctx.from_array(self._engine_array(e), eoutils.native_profile(e.profile))
        return e.image

    @staticmethod
    def _engine_array(e):
        a = e.array
        if a.ndim == 2:
            a = a.reshape((1,) + a.shape)
        return a.view(numpy.uint8) if a.dtype == numpy.bool_ else a

    def _add_lazy(self, image, profile) -> str:
        return self._add(_Entry(image, copy.deepcopy(profile)))

    def open_raster(self, raster_path: str) -> str:
        """A key on the raster file (lazy: read tile by tile when needed). Its profile is rasterio's."""
        path = os.fspath(raster_path)
        profile = eoutils.rasterio_profile(path)
        return self._add(_Entry(self._ctx.open(path), profile))

    def open_point_cloud(self, point_cloud_path: str):
        raise NotImplementedError("open_point_cloud: point clouds are not supported by this engine")

    def create_image(self, profile) -> str:
        """A key on an image full of zeros of `profile` (lazy: never allocated unless get_array asks)."""
        native = eoutils.native_profile(profile)
        return self._add(_Entry(self._ctx.constant(native, 0.0), copy.deepcopy(dict(profile))))

    def create_memview(self, key: str, arr_subset: numpy.ndarray, arr_subset_profile: dict) -> str:
        """A key on `arr_subset` (kept, not copied: get_array returns it) with its profile; released with `key`."""
        return self._add(_Entry(None, arr_subset_profile, array=arr_subset, parent=key))

    def get_array(self, key: str, tile: eoutils.MpTile = None) -> numpy.ndarray:
        """The image of `key` as a (bands, rows, cols) array, or the part `tile` covers (with its margins).

        A lazy key is computed whole now and then holds the array: changes made to it are seen by the
        filters applied to the key afterwards (as EOScale's shared arrays)."""
        e = self._entry(key)
        if e.array is None:
            a = self._ctx.read(e.image)
            if numpy.dtype(e.profile["dtype"]) == numpy.bool_:
                a = a.view(numpy.bool_)
            e.array = a
            e.image = None  # re-made from the array (and its changes) when used again
        if tile is None:
            return e.array
        start_y = tile.start_y - tile.top_margin
        end_y = tile.end_y + tile.bottom_margin + 1
        start_x = tile.start_x - tile.left_margin
        end_x = tile.end_x + tile.right_margin + 1
        return e.array[:, start_y:end_y, start_x:end_x]

    def get_profile(self, key: str) -> dict:
        """A copy of the rasterio profile of `key`."""
        return copy.deepcopy(self._entry(key).profile)

    def release(self, key: str) -> None:
        """The key is no longer needed: its memviews go with it, and what it holds is freed once no pending
        work reads it. Using it afterwards raises KeyError."""
        for k in [k for k, e in self._entries.items() if e.parent == key]:
            self._drop(k)
        self._drop(key)

    def _drop(self, key):
        e = self._entries.pop(key)
        if e.image is not None:
            self._ctx.release(e.image)

    def write(self, key: str, img_path: str) -> None:
        """Computes the image of `key` and writes it to `img_path` (GeoTIFF, with the profile's nodata,
        geometry and compression). Written under a temporary name and renamed: a failed write leaves
        nothing under `img_path`."""
        if key not in self._entries:
            warnings.warn(f"WARNING: the key {key} to write is not known by the context manager")
            return
        e = self._entries[key]
        self._ctx.write(self._image(key), os.fspath(img_path), options=eoutils.creation_options(e.profile))
        self._ctx.run()

    def update_profile(self, key: str, profile) -> str:
        """The same pixels under a new key with `profile` (nodata, geometry); `key` is no longer valid.

        Unlike EOScale, which reinterprets the shared memory, the width, height, count and dtype must
        not change (ValueError)."""
        e = self._entry(key)
        old, new = eoutils.native_profile(e.profile), eoutils.native_profile(profile)
        for k in ("width", "height", "count", "dtype"):
            if old[k] != new[k]:
                raise ValueError(f"update_profile: '{k}' cannot change ({old[k]} -> {new[k]}) in this drop-in")
        if e.array is not None:
            entry = _Entry(None, copy.deepcopy(dict(profile)), array=e.array, parent=e.parent)
        else:
            def same(tile):
                tile.outputs[0][...] = tile.inputs[0]
            image = self._ctx.map(e.image, same, profiles=[new], name="update_profile")[0]
            entry = _Entry(image, copy.deepcopy(dict(profile)))
        del self._entries[key]
        return self._add(entry)
