"""RGB → cube for images of any size: :func:`reconstruct`, tiled with :mod:`hsinr.infer.tiling`.

The tiling mode is chosen from the model:

* models that declare a bounded :meth:`receptive_radius` (INR-HSISR with local or no normalisation) use exact halo
  tiling with origins aligned to the model's ``alignment`` (its cell grid): tiles agree with a whole-image pass up
  to float32 rounding (tested to 1e-4 absolute; observed differences are ~1e-6);
* every other model (the CNN baselines, whose receptive field is large or unbounded) uses blended tiling with
  ``overlap`` pixels between tiles (default ``tile // 4``), exact when ``overlap / 4`` covers the receptive radius.

Peak memory is one tile's activations plus, without a ``writer``, the float32 ``(H, W, C)`` result; with a writer
the cube is streamed to disk block by block.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..device import device_of
from ..errors import DataError
from ..models.contract import alignment, core_output, receptive_radius
from .tiling import ArrayWriter, BlockWriter, tile_blended, tile_exact

#: Default core tile of exact halo tiling: with the recipe's 152-px radius a 1024-px core costs 1.22x the plain
#: forward passes on a 2048² image and peaks at 1,069 MiB (benchmarks/tiling_speed.py, big_image.py;
#: docs/performance.md).
EXACT_TILE = 1024
#: Default window of blended tiling (CNN baselines, whose memory per pixel is larger).
BLENDED_TILE = 256


def output_bands(model: nn.Module) -> int:
    """Bands a model produces (its ``out_bands`` attribute, else found by a tiny forward pass)."""
    bands = getattr(model, "out_bands", None)
    if bands is None:
        with torch.no_grad():
            bands = model(torch.zeros(1, 3, 16, 16, device=device_of(model))).shape[1]
    return int(bands)


def _run(model: nn.Module, rgb: np.ndarray, **kwargs) -> np.ndarray:
    """One forward pass on an ``(h, w, 3)`` numpy block → ``(h, w, C)`` float32 numpy."""
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None].to(device_of(model))
    with torch.no_grad():
        y = model(x, **kwargs)
    return y[0].permute(1, 2, 0).float().cpu().numpy()


def reconstruct(
    rgb: np.ndarray,
    model: nn.Module,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    writer: BlockWriter | None = None,
    progress: bool | None = None,
) -> np.ndarray | None:
    """Reconstruct a cube from an ``(H, W, 3)`` float32 RGB image in [0, 1] with any model of the registry.

    Args:
        rgb: the input image, linear RGB in [0, 1] (as the model was trained), ``(H, W, 3)``.
        model: an ``nn.Module`` taking ``(N, 3, H, W)``; put it on the device you want first.
        tile: core tile size in pixels (rounded up to the model's alignment); default :data:`EXACT_TILE` for exact
            halo tiling (large cores make the halo, which only feeds the model's context, a small share of the
            work) and :data:`BLENDED_TILE` for blended tiling.
        overlap: blended mode only: overlap between tiles in pixels (default ``tile // 4``, at most ``tile // 2``).
        writer: optional ``write(y0, x0, block)`` sink; then nothing is accumulated and ``None`` is returned.
        progress: show a progress bar (default: when there is more than one tile).

    Returns:
        ``(H, W, C)`` float32 cube, or ``None`` when ``writer`` is given.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DataError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    model.eval()
    sink = writer or ArrayWriter(height, width, output_bands(model))
    radius = receptive_radius(model)
    if radius is not None:
        tile = EXACT_TILE if tile is None else tile
        skip_halo = core_output(model)

        def run_exact(window: tuple[int, int, int, int], core: tuple[int, int, int, int]) -> np.ndarray:
            (ry0, ry1, rx0, rx1), (y0, y1, x0, x1) = window, core
            local = (y0 - ry0, x0 - rx0, y1 - y0, x1 - x0)
            kwargs = {"origin": (ry0, rx0), "full_size": (height, width)}
            if skip_halo:  # the model computes the core's output only
                return _run(model, rgb[ry0:ry1, rx0:rx1], core=local, **kwargs)
            return _run(model, rgb[ry0:ry1, rx0:rx1], **kwargs)[
                local[0] : local[0] + local[2], local[1] : local[1] + local[3]
            ]

        tile_exact(height, width, tile, radius, run_exact, sink, alignment(model), progress, desc="reconstruct")
    else:

        def run(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            return _run(model, rgb[y0:y1, x0:x1])

        tile = BLENDED_TILE if tile is None else tile
        overlap = tile // 4 if overlap is None else min(int(overlap), tile // 2)
        tile_blended(height, width, tile, overlap, run, sink, 1, progress, desc="reconstruct")
    return None if writer is not None else sink.array
