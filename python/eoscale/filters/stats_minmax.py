# Drop-in for EOScale's module of the same name: its signatures, calling conventions and small helpers
# follow EOScale (https://github.com/CNES/eoscale), Copyright (c) 2024 Centre National d'Etudes
# Spatiales (CNES), Licensed under the Apache License, Version 2.0.
"""EOScale's minmax_filter (drop-in for eoscale.filters.stats_minmax)."""

from typing import List, Tuple

import numpy as np

from eoscale.eo_executors import n_images_to_m_scalars
from eoscale.manager import EOContextManager


def stats_filter(input_buffers: list, input_profiles: list, filter_parameters: dict) -> List[float]:
    """[min, max] over every input buffer of the tile."""
    all_min = [np.min(img) for img in input_buffers]
    all_max = [np.max(img) for img in input_buffers]
    return [np.min(all_min), np.max(all_max)]


def stats_concatenate(output_scalars, chunk_output_scalars, tile) -> None:
    output_scalars[0] = min(output_scalars[0], chunk_output_scalars[0])
    output_scalars[1] = max(output_scalars[1], chunk_output_scalars[1])


def minmax_filter(context: EOContextManager, inputs: List[str]) -> Tuple[float, float]:
    """[min, max] over the raster files `inputs`. As in EOScale, the fold starts from [0.0, 0.0], so the
    minimum is at most 0 and the maximum at least 0."""
    imgs = [context.open_raster(raster_path=img) for img in inputs]
    return n_images_to_m_scalars(inputs=imgs,
                                 image_filter=stats_filter,
                                 nb_output_scalars=2,
                                 concatenate_filter=stats_concatenate,
                                 context_manager=context,
                                 filter_desc="Min Max values processing...")
