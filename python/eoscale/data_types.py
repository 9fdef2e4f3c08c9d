# Drop-in for EOScale's module of the same name: its signatures, calling conventions and small helpers
# follow EOScale (https://github.com/CNES/eoscale), Copyright (c) 2024 Centre National d'Etudes
# Spatiales (CNES), Licensed under the Apache License, Version 2.0.
"""EOScale's data types (drop-in for eoscale.data_types): keys are strings."""

from enum import Enum

VirtualPath = str


class DataType(Enum):
    RASTER = 1
    POINTCLOUD = 2
