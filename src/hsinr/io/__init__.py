"""Read and write hyperspectral cubes and RGB images.

Cubes: :func:`read_cube` / :func:`write_cube` dispatch on the path (CAVE scene folder, MATLAB v5/v7.3 ``.mat``,
HDF5, ENVI, TIFF, ``.npy``, ``.npz``; see :func:`supported_formats`), and :func:`open_cube_writer` writes a cube
tile by tile without holding it in memory. RGB images: :func:`read_rgb` / :func:`write_rgb` (R, G, B order, [0, 1]).
"""

from ._shared import CubeWriter
from .dispatch import check_cube_output, open_cube_writer, read_cube, supported_formats, write_cube
from .rgb import read_rgb, write_rgb

__all__ = [
    "CubeWriter",
    "check_cube_output",
    "open_cube_writer",
    "read_cube",
    "read_rgb",
    "supported_formats",
    "write_cube",
    "write_rgb",
]
