# Drop-in for EOScale's module of the same name: its signatures, calling conventions and small helpers
# follow EOScale (https://github.com/CNES/eoscale), Copyright (c) 2024 Centre National d'Etudes
# Spatiales (CNES), Licensed under the Apache License, Version 2.0.
"""EOScale's executors (drop-in for eoscale.eo_executors) on this engine.

n_images_to_m_images_filter adds a map to the engine's graph and returns the keys of its outputs
at once: nothing runs until a write, get_array or scalars need them. The filter is called with
EOScale's convention, on the engine's worker threads (the GIL held around the call only):
`image_filter(input_buffers, input_profiles, filter_parameters)` with one (bands, rows, cols)
array per input covering the tile and its margin (clamped at the image border), a copy of each
input's rasterio profile, and the parameters; it returns one array (or a list of arrays) per
output, of the input tile's rows and columns (2-D means one band), which are cropped to the stable
window and stored into the output with NumPy's assignment (broadcast to the profile's bands, cast
to its dtype), as EOScale's default_reduce does.

The tiles are the engine's (a few hundred pixels a side, or tile_max_size), not EOScale's one per
worker: the results are the same for filters whose output at a pixel depends only on the pixels
within the margin. compute_mp_tiles and compute_mp_strips return EOScale's tiles, for code that
uses them directly.
"""

import copy
import math
from typing import Callable, List, Literal

import numpy

import eoscale.utils as eotools
import eoscale.data_types as eodt
from eoscale.manager import EOContextManager


def _shape(context_manager, key):
    p = context_manager.get_profile(key=key)
    return p["height"], p["width"]


def _check_same_size(inputs, context_manager):
    """(height, width) of the inputs, which must all have it (EOScale's strong hypothesis)."""
    shapes = [_shape(context_manager, key) for key in inputs]
    if any(s != shapes[0] for s in shapes):
        raise ValueError("ERROR: all input images must have the same width and the same height !")
    return shapes[0]


def compute_mp_strips(image_height: int, image_width: int, nb_workers: int, stable_margin: int,
                      context_manager: EOContextManager) -> list:
    """EOScale's strips: nb_workers strips of height // nb_workers rows (tile_max_size rows when set), the
    last one to the bottom of the image, with `stable_margin` rows above and below (clamped)."""
    if context_manager.tile_max_size > 0:
        strip_height = context_manager.tile_max_size
    else:
        strip_height = image_height // nb_workers
    strips = []
    for worker in range(nb_workers):
        start_y = worker * strip_height
        end_y = image_height - 1 if worker == nb_workers - 1 else (worker + 1) * strip_height - 1
        top = stable_margin if start_y - stable_margin >= 0 else start_y
        bottom = stable_margin if end_y + stable_margin <= image_height - 1 else image_height - 1 - end_y
        strips.append(eotools.MpTile(start_x=0, start_y=start_y, end_x=image_width - 1, end_y=end_y,
                                     top_margin=top, right_margin=0, bottom_margin=bottom, left_margin=0))
    return strips


def compute_mp_tiles(inputs: list, stable_margin: int, nb_workers: int, tile_mode: bool,
                     context_manager: EOContextManager):
    """EOScale's tiles of the inputs: square tiles of int(sqrt(width * height / nb_workers)) pixels (at most
    tile_max_size when set) with `stable_margin` around them (clamped at the border), or its strips when
    tile_mode is False. Reads the profiles only (nothing is computed)."""
    image_height, image_width = _check_same_size(inputs, context_manager)
    if not tile_mode:
        return compute_mp_strips(image_height=image_height, image_width=image_width, nb_workers=nb_workers,
                                 stable_margin=stable_margin, context_manager=context_manager)
    tile_size = int(math.sqrt((image_width * image_height) // nb_workers))
    if context_manager.tile_max_size > 0:
        tile_size = min(tile_size, context_manager.tile_max_size)
    tiles = []
    for ty in range(-(-image_height // tile_size)):
        for tx in range(-(-image_width // tile_size)):
            start_x, start_y = tx * tile_size, ty * tile_size
            end_x = min((tx + 1) * tile_size - 1, image_width - 1)
            end_y = min((ty + 1) * tile_size - 1, image_height - 1)
            tiles.append(eotools.MpTile(
                start_x=start_x, start_y=start_y, end_x=end_x, end_y=end_y,
                top_margin=stable_margin if start_y - stable_margin >= 0 else start_y,
                right_margin=stable_margin if end_x + stable_margin <= image_width - 1 else image_width - 1 - end_x,
                left_margin=stable_margin if start_x - stable_margin >= 0 else start_x,
                bottom_margin=stable_margin if end_y + stable_margin <= image_height - 1 else image_height - 1 - end_y))
    return tiles


def default_generate_output_profiles(input_profiles: list) -> list:
    """Deep copies of the input profiles."""
    return [copy.deepcopy(p) for p in input_profiles]


def default_reduce(outputs: list, chunk_output_buffers: list, tile: eotools.MpTile) -> None:
    """Stores a tile's outputs (stable window) into whole output arrays."""
    for c in range(len(chunk_output_buffers)):
        outputs[c][:, tile.start_y: tile.end_y + 1, tile.start_x: tile.end_x + 1] = chunk_output_buffers[c][:, :, :]


def _tile_profiles(profiles):
    """Per tile, each filter call gets its own profile dicts (it may change them, as EOScale's copies); their
    values are shared: CRS and Affine are immutable, and a deep copy of a CRS on a worker thread costs a
    GDAL round trip and leaked ~160 bytes in rasterio 1.3."""
    return [dict(p) for p in profiles]


def _stable_outputs(image_filter, filter_parameters, input_buffers, input_profiles, tile):
    """EOScale's execute_filter_n_images_to_n_images on one tile: the filter's outputs cropped to the stable
    window of `tile` (an MpTile)."""
    output_buffers = image_filter(input_buffers, input_profiles, filter_parameters)
    if not isinstance(output_buffers, list):
        if not isinstance(output_buffers, numpy.ndarray):
            raise ValueError("Output of the image filter must be either a Python list or a numpy array")
        output_buffers = [output_buffers]
    rows, cols = input_buffers[0].shape[1], input_buffers[0].shape[2]
    stable_y, stable_x = tile.top_margin, tile.left_margin
    height, width = tile.end_y - tile.start_y + 1, tile.end_x - tile.start_x + 1
    out = []
    for buffer in output_buffers:
        buffer = numpy.asarray(buffer)
        if buffer.ndim == 2:
            buffer = buffer.reshape((1,) + buffer.shape)
        if buffer.ndim != 3 or buffer.shape[1] != rows or buffer.shape[2] != cols:
            raise ValueError(
                "ERROR: Output images must have the same height and width of input images for this filter !")
        out.append(buffer[:, stable_y:stable_y + height, stable_x:stable_x + width])
    return out


def n_images_to_m_images_filter(inputs: list = None,
                                image_filter: Callable = None,
                                filter_parameters: dict = None,
                                generate_output_profiles: Callable = None,
                                concatenate_filter: Callable = None,
                                stable_margin: int = 0,
                                context_manager: EOContextManager = None,
                                multiproc_context: Literal["fork", "spawn", "forkserver"] = "fork",
                                filter_desc: str = "N Images to M images MultiProcessing...") -> List[eodt.VirtualPath]:
    """Applies `image_filter` to the inputs tile by tile; returns the keys of its outputs (lazy).

    generate_output_profiles(input_profiles, filter_parameters) gives the output profiles (default: the
    inputs'). concatenate_filter(outputs, chunk_output_buffers, tile), when given, receives whole output
    arrays: that filter is then run at once into arrays held in memory (not streamed).
    multiproc_context is accepted and ignored (the engine runs threads)."""
    if inputs is None or len(inputs) < 1:
        raise ValueError("At least one input image must be given.")
    if image_filter is None:
        raise ValueError("A filter must be set !")
    if context_manager is None:
        raise ValueError("The EOScale Context Manager must be given !")
    if filter_parameters is None:
        filter_parameters = dict()
    if stable_margin < 0:
        raise ValueError(f"stable_margin must not be negative, got {stable_margin}")
    _check_same_size(inputs, context_manager)

    input_profiles = [context_manager.get_profile(key=key) for key in inputs]
    if generate_output_profiles is None:
        output_profiles = [copy.deepcopy(p) for p in input_profiles]
    else:
        output_profiles = generate_output_profiles(copy.deepcopy(input_profiles), filter_parameters)
        if not isinstance(output_profiles, list):
            output_profiles = [output_profiles]
    output_profiles = [copy.deepcopy(dict(p)) for p in output_profiles]  # a list may repeat one dict
    images = [context_manager._image(key) for key in inputs]
    n_out = len(output_profiles)
    name = getattr(image_filter, "__name__", "image_filter")

    if concatenate_filter is not None:
        return _with_concatenate_filter(context_manager, images, image_filter, filter_parameters, input_profiles,
                                        output_profiles, concatenate_filter, stable_margin, name)

    def run_tile(tile):
        mp = eotools.mp_tile(tile)
        chunks = _stable_outputs(image_filter, filter_parameters, tile.inputs, _tile_profiles(input_profiles), mp)
        if len(chunks) > n_out:
            raise ValueError(f"the filter returned {len(chunks)} outputs for {n_out} output profiles")
        if len(chunks) == n_out:
            return chunks  # stored by the engine: broadcast and cast as EOScale's default_reduce (casting below)
        for c, chunk in enumerate(chunks):  # fewer: the others stay zeros
            tile.outputs[c][...] = chunk
    run_tile.__name__ = name

    # "unsafe": EOScale stores a filter's outputs with NumPy's assignment, which casts any type to any.
    outs = context_manager._ctx.map(images, run_tile, margin=stable_margin,
                                    profiles=[eotools.native_profile(p) for p in output_profiles], name=name,
                                    casting="unsafe")
    return [context_manager._add_lazy(image, p) for image, p in zip(outs, output_profiles)]


def _with_concatenate_filter(context_manager, images, image_filter, filter_parameters, input_profiles,
                             output_profiles, concatenate_filter, stable_margin, name):
    """A user's concatenate_filter needs whole outputs: they are allocated and filled now. Each tile calls it
    with the GIL held (one at a time, in the order tiles finish, as EOScale's as_completed)."""
    from eoscale.manager import _Entry
    outputs = [numpy.zeros((p["count"], p["height"], p["width"]), dtype=numpy.dtype(p["dtype"]))
               for p in output_profiles]

    def run_tile(tile):
        mp = eotools.mp_tile(tile)
        concatenate_filter(outputs, _stable_outputs(image_filter, filter_parameters, tile.inputs,
                                                    _tile_profiles(input_profiles), mp), mp)
    run_tile.__name__ = name

    ctx = context_manager._ctx
    # A map of a 1-band placeholder (never kept: its tiles are dropped by a reduction that forces the run).
    done = ctx.map(images, run_tile, margin=stable_margin, profiles=[{"count": 1, "dtype": "uint8"}], name=name)[0]
    ctx.reduce(done, lambda tile: None, lambda a, b: None, name=name + " (run)").get()
    ctx.release(done)
    return [context_manager._add(_Entry(None, p, array=a)) for a, p in zip(outputs, output_profiles)]


def n_images_to_m_scalars(inputs: List[str],
                          image_filter: Callable,
                          concatenate_filter: Callable,
                          context_manager: EOContextManager,
                          filter_parameters: dict = None,
                          nb_output_scalars: int = None,
                          output_scalars: list = None,
                          multiproc_context: Literal["fork", "spawn", "forkserver"] = "fork",
                          filter_desc: str = "N Images to M Scalars MultiProcessing...") -> list:
    """Runs `image_filter(input_buffers, input_profiles, filter_parameters)` on every tile (no margin) and
    folds its scalars into `output_scalars` (zeros by default) with `concatenate_filter(output_scalars,
    chunk_output_scalars, tile)`, in tile order. Runs now: the scalars are the result."""
    if inputs is None or len(inputs) < 1:
        raise ValueError("At least one input image must be given.")
    if image_filter is None:
        raise ValueError("A filter must be set !")
    if concatenate_filter is None:
        raise ValueError("A concatenate filter must be set !")
    if nb_output_scalars is None:
        raise ValueError("The number of output scalars must be set (integer value expected) !")
    if context_manager is None:
        raise ValueError("The EOScale Context Manager must be given !")
    if filter_parameters is None:
        filter_parameters = dict()
    _check_same_size(inputs, context_manager)
    input_profiles = [context_manager.get_profile(key=key) for key in inputs]
    images = [context_manager._image(key) for key in inputs]

    def map_tile(tile):
        scalars = image_filter(tile.inputs, _tile_profiles(input_profiles), filter_parameters)
        if not isinstance(scalars, list):
            scalars = [scalars]
        return [(scalars, eotools.mp_tile(tile))]

    parts = context_manager._ctx.reduce(images, map_tile, lambda a, b: a + b,
                                        name=getattr(image_filter, "__name__", "image_filter")).get()
    if output_scalars is None:
        output_scalars = [0.0 for _ in range(nb_output_scalars)]
    for scalars, tile in parts:
        concatenate_filter(output_scalars, scalars, tile)
    return output_scalars
