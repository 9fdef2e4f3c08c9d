# Drop-in for EOScale's module of the same name: its signatures, calling conventions and small helpers
# follow EOScale (https://github.com/CNES/eoscale), Copyright (c) 2024 Centre National d'Etudes
# Spatiales (CNES), Licensed under the Apache License, Version 2.0.
"""EOScale's concatenate_images (drop-in for eoscale.filters.concatenate_images).

The concatenation runs as the engine's native concatenate filter (no GIL, no Python per tile);
concatenate_filter and concatenate_profile are EOScale's functions, for direct use.
"""

from pathlib import Path
from typing import List, Union

import numpy as np
from numpy.typing import DTypeLike

from eoscale.data_types import VirtualPath
from eoscale.manager import EOContextManager
import eoscale.filters as _native


def concatenate_filter(input_buffers: list, input_profiles: list, params: dict) -> List[np.ndarray]:
    """The input buffers stacked along the bands, as params["np_type"]."""
    res = np.concatenate(input_buffers, axis=0, dtype=params["np_type"]).squeeze()
    return [res]


def concatenate_profile(input_profiles: list, params: dict) -> List[dict]:
    """The first input's profile with params["np_type"] and the sum of the inputs' bands."""
    profile = input_profiles[0]
    profile['dtype'] = params["np_type"]
    profile['count'] = sum(input_profile["count"] for input_profile in input_profiles)
    return [profile]


def concatenate_images(context: EOContextManager, inputs: List[Union[str, VirtualPath]],
                       as_type: DTypeLike = np.float32) -> VirtualPath:
    """The bands of every input (paths of existing files, or keys), in order, as one image of `as_type` (lazy)."""
    imgs = []
    for input_file in inputs:
        if Path.exists(Path(input_file)):
            imgs.append(context.open_raster(raster_path=input_file))
        else:
            imgs.append(input_file)
    profiles = concatenate_profile([context.get_profile(key) for key in imgs], {"np_type": as_type})
    dtype = np.dtype(as_type).name
    image = context.context.map([context._image(key) for key in imgs], _native.concatenate(dtype),
                                name="concatenate_images")[0]
    return context._add_lazy(image, profiles[0])
