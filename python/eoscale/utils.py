# Drop-in for EOScale's module of the same name: its signatures, calling conventions and small helpers
# follow EOScale (https://github.com/CNES/eoscale), Copyright (c) 2024 Centre National d'Etudes
# Spatiales (CNES), Licensed under the Apache License, Version 2.0.
"""EOScale's helpers (drop-in for eoscale.utils): MpTile and rasterio profiles.

Also the conversions between a rasterio profile (what EOScale's API hands around) and the
engine's profile dict (eoscale.Context's: width, height, count, dtype, nodata, crs as WKT,
geotransform in GDAL order, writer_options).
"""

from collections import namedtuple

import numpy
import rasterio
from rasterio.profiles import DefaultGTiffProfile
from rasterio.transform import Affine

# As EOScale: a tile's stable window [start, end] (inclusive) and the margin around it.
MpTile = namedtuple('MpTile', ["start_x", "start_y", "end_x", "end_y", "top_margin", "right_margin", "left_margin",
                               "bottom_margin"])

# GeoTIFF creation options a rasterio profile may carry, as GDAL spells them.
_CREATION_KEYS = {"compress": "COMPRESS", "predictor": "PREDICTOR", "zlevel": "ZLEVEL", "bigtiff": "BIGTIFF",
                  "photometric": "PHOTOMETRIC", "num_threads": "NUM_THREADS"}


def mp_tile(tile):
    """The MpTile of an engine tile (eoscale.Tile): window and margins."""
    x, y, w, h = tile.window
    top, right, bottom, left = tile.margins
    return MpTile(start_x=x, start_y=y, end_x=x + w - 1, end_y=y + h - 1, top_margin=top, right_margin=right,
                  left_margin=left, bottom_margin=bottom)


def engine_dtype(dtype):
    """The engine's dtype name for a profile's dtype; bool (NumPy's, not a raster type) is stored as uint8."""
    d = numpy.dtype(dtype)
    return "uint8" if d == numpy.bool_ else d.name


def native_profile(profile):
    """The engine's profile dict for a rasterio profile (a dict with at least width, height, count, dtype)."""
    for key in ("width", "height", "count", "dtype"):
        if key not in profile:
            raise ValueError(f"profile: '{key}' is missing (a rasterio profile needs width, height, count, dtype)")
    out = {"width": int(profile["width"]), "height": int(profile["height"]), "count": int(profile["count"]),
           "dtype": engine_dtype(profile["dtype"])}
    nodata = profile.get("nodata")
    out["nodata"] = None if nodata is None else float(nodata)
    crs = profile.get("crs")
    if crs is not None:
        out["crs"] = crs if isinstance(crs, str) else rasterio.crs.CRS.from_user_input(crs).to_wkt()
    transform = profile.get("transform")
    if transform is not None:
        out["geotransform"] = tuple(Affine(*tuple(transform)[:6]).to_gdal())
    return out


def creation_options(profile):
    """GDAL creation options ("KEY=VALUE") for the GeoTIFF options a rasterio profile carries."""
    opts = []
    for key, gdal_key in _CREATION_KEYS.items():
        value = profile.get(key)
        if value is not None:
            value = value.name if hasattr(value, "name") else value  # rasterio's Compression enum
            opts.append(f"{gdal_key}={str(value).upper() if isinstance(value, str) else value}")
    return opts


def rasterio_profile(path):
    """The profile rasterio reads from a raster file, as a plain dict (what EOScale's get_profile returns)."""
    with rasterio.open(path, "r") as dataset:
        return dict(dataset.profile)


def create_default_rasterio_profile(nb_bands: int,
                                    dtype: numpy.dtype,
                                    xstart: float,
                                    ystart: float,
                                    xsize: int,
                                    ysize: int,
                                    resolution: float,
                                    nodata: float = None):
    """A GeoTIFF profile of xsize x ysize pixels of `resolution`, north-up from (xstart, ystart) (as EOScale)."""
    transform = Affine.translation(xstart, ystart) * Affine.scale(resolution, -resolution)
    return DefaultGTiffProfile(count=nb_bands, dtype=dtype, width=xsize, height=ysize, transform=transform,
                               nodata=nodata)
