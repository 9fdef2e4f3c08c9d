# Drop-in for EOScale's module of the same name: its signatures, calling conventions and small helpers
# follow EOScale (https://github.com/CNES/eoscale), Copyright (c) 2024 Centre National d'Etudes
# Spatiales (CNES), Licensed under the Apache License, Version 2.0.
"""EOScale's generic_kernel_filter (drop-in for eoscale.filters.generic_kernel): scipy's generic_filter
over a square window, tile by tile with the kernel's radius as margin."""

from pathlib import Path
from typing import Any, Callable, Dict, List, Literal, Optional, Union

import numpy as np
from numpy.typing import DTypeLike
from scipy.ndimage import generic_filter

from eoscale.data_types import VirtualPath
from eoscale.eo_executors import n_images_to_m_images_filter
from eoscale.manager import EOContextManager


def sliding_window_reduce_with_kernel(arr, func: Callable, kernel_size: tuple,
                                      mode: Literal["reflect", "constant", "nearest", "mirror", "wrap"],
                                      cval: int,
                                      func_kwarg: Optional[Dict[str, Any]] = None,
                                      output_dtype: DTypeLike = np.float32) -> np.ndarray:
    """scipy.ndimage.generic_filter(arr, func, size=kernel_size, mode=mode, cval=cval) as output_dtype."""
    if func_kwarg is None:
        func_kwarg = {}
    return generic_filter(arr, func, size=kernel_size, mode=mode, cval=cval,
                          extra_keywords=func_kwarg).astype(output_dtype)


def kernel_filter(input_buffers: list, input_profiles: list, params: dict) -> List[np.ndarray]:
    return [sliding_window_reduce_with_kernel(img, params["func"], params["kernel_shape"], params["mode"],
                                              params["cval"], params["func_kwarg"]) for img in input_buffers]


def generic_profile(input_profiles: list, params: dict) -> list:
    profile = input_profiles[0]
    profile['dtype'] = params["np_type"]
    return [profile] * len(input_profiles)


def generic_kernel_filter(context: EOContextManager,
                          inputs: List[Union[str, VirtualPath]],
                          func: Callable,
                          kernel_radius: int = 1,
                          mode: Literal["reflect", "constant", "nearest", "mirror", "wrap"] = "constant",
                          cval=0.0,
                          dtype: DTypeLike = np.float32,
                          func_kwarg: Optional[Dict[str, Any]] = None) -> List[VirtualPath]:
    """`func` over the (2 kernel_radius + 1)^2 window of every pixel of every input (paths or keys); one
    output key per input, of `dtype`. As in EOScale, `mode` applies at the image border only: inside, the
    tile's margin holds the real neighbours."""
    imgs = []
    for input_file in inputs:
        if Path.exists(Path(input_file)):
            imgs.append(context.open_raster(raster_path=input_file))
        else:
            imgs.append(input_file)
    kernel_shape = (1, 1 + 2 * kernel_radius, 1 + 2 * kernel_radius)
    return n_images_to_m_images_filter(inputs=imgs,
                                       image_filter=kernel_filter,
                                       filter_parameters={"func": func, "kernel_shape": kernel_shape, "mode": mode,
                                                          "cval": cval, "np_type": dtype, "func_kwarg": func_kwarg},
                                       generate_output_profiles=generic_profile,
                                       context_manager=context,
                                       stable_margin=kernel_radius,
                                       filter_desc="Generic processing...")
