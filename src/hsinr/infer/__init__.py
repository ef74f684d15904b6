"""Inference on images of any size: one tiler (:mod:`.tiling`) and one entry per task.

* :func:`reconstruct` — RGB → cube (spectral super-resolution), :mod:`.reconstruct`;
* :func:`fuse` — LR-HSI + HR-MSI → HR-HSI (fusion), :mod:`.fuse`;
* :func:`synthesize` — RGB → remote-sensing HSI with abundances (INSS), :mod:`.synthesize`.
"""

from .fuse import DEFAULT_OVERLAP_PER_SCALE, fuse
from .reconstruct import output_bands, reconstruct
from .synthesize import Synthesis, synthesize
from .tiling import ArrayWriter, BlockWriter, blend_ramp, tile_blended, tile_exact

__all__ = [
    "DEFAULT_OVERLAP_PER_SCALE",
    "ArrayWriter",
    "BlockWriter",
    "Synthesis",
    "blend_ramp",
    "fuse",
    "output_bands",
    "reconstruct",
    "synthesize",
    "tile_blended",
    "tile_exact",
]
