# The script of EOScale's notebook docs/source/notebooks/water_mask.ipynb ("Aggregation of water
# masks"), https://github.com/CNES/eoscale, Copyright (c) 2024 Centre National d'Etudes Spatiales
# (CNES), Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
#
# Its code cells in order, unchanged, except what a script cannot or must not do: the download of
# the OTB data (`import requests`, the four lines fetching and unzipping the archive) and the
# display (`from rasterio.plot import show`, `show_raster` and its calls) are removed. Data paths
# are the notebook's: ./data/xt_SENTINEL2*.tif under the current folder (the test writes them
# there), outputs in the current folder.
import io
import zipfile
from functools import reduce
from pathlib import Path
from typing import List

import numpy as np
import rasterio

from eoscale.eo_executors import n_images_to_m_images_filter
from eoscale.manager import EOContextManager

DATA_DIR = "./"  # /!\ Change directory if you want
OUTPUT_DIR = "./"  # /!\ Change directory if you want


s2_20180621 = Path(DATA_DIR) / "data" / "xt_SENTINEL2B_20180621-111349-432_L2A_T30TWT_D_V1-8_RVBPIR.tif"
s2_20180701 = Path(DATA_DIR) / "data" / "xt_SENTINEL2B_20180701-111103-470_L2A_T30TWT_D_V1-8_RVBPIR.tif"
s2_20180706 = Path(DATA_DIR) / "data" / "xt_SENTINEL2A_20180706-110918-241_L2A_T30TWT_D_V1-8_RVBPIR.tif"
s2_20180711 = Path(DATA_DIR) / "data" / "xt_SENTINEL2B_20180711-111139-550_L2A_T30TWT_D_V1-8_RVBPIR.tif"

def ndwi_filter(input_buffers: list,
               input_profiles: list,
               params: dict) -> List[np.ndarray]:
    """
    Computes the NDWI for a list of input buffers.

    Parameters
    ----------
    input_buffers : list
        List of input buffers containing raster data.
    input_profiles : list
        List of profiles associated with the input buffers.
    params : dict
        Dictionary of parameters for the filter.

    Returns
    -------
    list of np.ndarray
        List of NDWI arrays.
    """
    eps = 0.001
    return [(input_buffer[1] - input_buffer[3]) / (input_buffer[1] + input_buffer[3] + eps) for input_buffer in input_buffers]


def copy_profile(input_profiles: list,
                 params: dict) -> dict:
    """
    Copies the profile of the input raster.

    Parameters
    ----------
    input_profiles : list
        List of input profiles.
    params : dict
        Dictionary of parameters.

    Returns
    -------
    dict
        Copied profile.
    """
    return input_profiles

    
def compute_ndwi(context: EOContextManager, input_files: List[str]):
    """
    Computes NDWI on a list of Sentinel-2 images.

    Parameters
    ----------
    context : EOContextManager
        Context manager for EO operations.
    input_files : List[str]
        List of paths to input raster files.

    Returns
    -------
    List[str]
        List of NDWI computed images.
    """
    return n_images_to_m_images_filter(inputs=[context.open_raster(input_file) for input_file in input_files],
                                       image_filter=ndwi_filter,
                                       generate_output_profiles=copy_profile,
                                       context_manager=context,
                                       filter_desc="Compute NDWI...")
s2_20180621_NDWI = Path(OUTPUT_DIR) / "s2_20180621_NDWI.tif"
with EOContextManager(nb_workers = 2, tile_mode = True) as eoscale_manager:
    ndwi_keys = compute_ndwi(eoscale_manager, [s2_20180621])
    eoscale_manager.write(ndwi_keys[0], str(s2_20180621_NDWI))

def water_mask_filter(input_buffers: list,
               input_profiles: list,
               params: dict) -> List[np.ndarray]:
    """
    Creates a water mask using a threshold on NDWI values.

    Parameters
    ----------
    input_buffers : list
        List of input buffers containing NDWI data.
    input_profiles : list
        List of profiles associated with the input buffers.
    params : dict
        Dictionary containing the NDWI threshold parameter.

    Returns
    -------
    list of np.ndarray
        List of water masks.
    """
    return [np.where(input_buffer > params["ndwi_threshold"], True, False).astype(bool) for input_buffer in input_buffers]

    
def water_mask(context: EOContextManager, input_files: str, ndwi_threshold: float):
    """
    Computes a water mask using a threshold, 1 means water, 0 otherwise.

    Parameters
    ----------
    context : EOContextManager
        Context manager for EO operations.
    input_files : str
        Path to the input raster files.
    ndwi_threshold : float
        Threshold value for NDWI to classify water. All values superior to this value will be categorized as water.

    Returns
    -------
    List[str]
        List of water mask images.
    """
    return n_images_to_m_images_filter(inputs=input_files,
                                       image_filter=water_mask_filter,
                                       filter_parameters = {"ndwi_threshold":ndwi_threshold},
                                       generate_output_profiles=copy_profile,
                                       context_manager=context,
                                       filter_desc="Compute water mask...")
s2_20180621_water_mask = Path(OUTPUT_DIR) / "s2_20180621_water_mask.tif"
with EOContextManager(nb_workers = 2, tile_mode = True) as eoscale_manager:
    ndwi_keys = compute_ndwi(eoscale_manager, [s2_20180621])
    water_mask_keys = water_mask(eoscale_manager, ndwi_keys, 0)
    eoscale_manager.write(water_mask_keys[0], str(s2_20180621_water_mask))

def water_mask_aggregation_profile(input_profiles: list,
                 params: dict) -> dict:
    """
    Aggregates profiles for water mask.

    Parameters
    ----------
    input_profiles : list
        List of input profiles.
    params : dict
        Dictionary of parameters.

    Returns
    -------
    dict
        Aggregated profile.
    """
    return input_profiles[0]


def water_mask_aggregation_filter(input_buffers: list,
               input_profiles: list,
               params: dict) -> List[np.ndarray]:
    """
    Aggregates water mask buffers using a logical AND operation.

    Parameters
    ----------
    input_buffers : list
        List of input buffers containing water masks.
    input_profiles : list
        List of profiles associated with the input buffers.
    params : dict
        Dictionary of parameters.

    Returns
    -------
    list of np.ndarray
        List of aggregated water masks.
    """
    return [reduce(np.logical_and, input_buffers)]


def water_mask_aggregation(context: EOContextManager, input_files: str):
    """
    Computes an aggregated water mask using logical AND operation 1 mean water 0 otherwise.

    Parameters
    ----------
    context : EOContextManager
        Context manager for EO operations.
    input_files : str
        Path to the input raster files.

    Returns
    -------
    List[str]
        List of aggregated water mask images.

    """
    return n_images_to_m_images_filter(inputs=input_files,
                                       image_filter=water_mask_aggregation_filter,
                                       generate_output_profiles=water_mask_aggregation_profile,
                                       context_manager=context,
                                       filter_desc="Compute water mask aggregation...")
    
s2_20180621_water_mask = Path(OUTPUT_DIR) / "s2_20180621_water_mask.tif"
water_mask_agg = Path(OUTPUT_DIR) / "water_mask_agg.tif"
with EOContextManager(nb_workers = 2, tile_mode = True) as eoscale_manager:
    ndwi_keys = compute_ndwi(eoscale_manager, [s2_20180621, s2_20180701, s2_20180706, s2_20180711])
    water_mask_keys = water_mask(eoscale_manager, ndwi_keys, 0)
    water_mask_aggregation_keys = water_mask_aggregation(eoscale_manager, water_mask_keys)
    eoscale_manager.write(water_mask_aggregation_keys[0], str(water_mask_agg))
