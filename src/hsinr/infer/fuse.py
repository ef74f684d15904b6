"""LR-HSI + HR-MSI → HR-HSI for images of any size: :func:`fuse`, tiled with :mod:`hsinr.infer.tiling`."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..errors import DataError
from ..spectral.degradation import fusion_scale
from .tiling import ArrayWriter, BlockWriter, round_up, tile_blended, whole_image

DEFAULT_OVERLAP_PER_SCALE = 18
"""Default tile overlap of :func:`fuse` in LR pixels (×scale in HR pixels): exact tiling for the default INF³."""


def _chw(image: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[None].to(device)


def fuse(
    lr_hsi: np.ndarray,
    hr_msi: np.ndarray,
    model: nn.Module,
    tile: int = 256,
    overlap: int | None = None,
    device: str | torch.device = "cpu",
    writer: BlockWriter | None = None,
    progress: bool | None = False,
) -> np.ndarray | None:
    """Fuse an LR-HSI ``(h, w, C)`` and an HR-MSI ``(H, W, M)`` (``H = r·h``) into an ``(H, W, C)`` float32 cube.

    The HR grid is tiled by :func:`hsinr.infer.tiling.tile_blended` with window origins on multiples of ``r``, so
    each HR window has an exact LR counterpart. When ``overlap / 4`` is at least the model's receptive radius in HR
    pixels, the result equals a single whole-image pass up to float rounding. Models that fit themselves to each
    image (the classical fusions, ``tileable = False``) run in one whole-image pass; those whose only whole-image
    part is their long skip (INF³ over a regression prior: ``takes_skip = True``) get it computed once on the whole
    image and run their network tile by tile on its crops, exact in the same way. Peak memory: the model's
    activations on one tile plus the output (and the whole-image skip where there is one).

    Args:
        lr_hsi, hr_msi: float32 numpy arrays ``(h, w, C)`` and ``(H, W, M)``, linear values as the model was
            trained on.
        model: a fusion model taking ``(lr_hsi (N, C, h, w), hr_msi (N, M, H, W))``; put in eval mode here and
            moved to ``device``.
        tile, overlap: HR pixels (rounded up to multiples of ``r``). ``overlap=None`` uses
            ``DEFAULT_OVERLAP_PER_SCALE × r`` (72 px at ×4, 144 px at ×8), at least four times the measured reach
            of the default INF³ (18 px at ×4, 34 px at ×8), so the default result is exact; ``tile`` is then raised
            to twice the overlap when smaller.
        device: where to run the model.
        writer: optional ``write(y0, x0, block)`` sink; then ``None`` is returned.
        progress: show a progress bar (``None``: when there is more than one tile).

    Raises:
        DataError: arrays not 3-D, HR size not an integer multiple of the LR size (or not ``model.scale`` × it).
    """
    lr_hsi, hr_msi = np.asarray(lr_hsi, dtype=np.float32), np.asarray(hr_msi, dtype=np.float32)
    if lr_hsi.ndim != 3 or hr_msi.ndim != 3:
        raise DataError(f"fuse expects (h, w, C) and (H, W, M) arrays, got {lr_hsi.shape} and {hr_msi.shape}")
    scale = fusion_scale(lr_hsi.shape[:2], hr_msi.shape[:2], getattr(model, "scale", None))
    if overlap is None:
        overlap = DEFAULT_OVERLAP_PER_SCALE * scale
        tile = max(int(tile), 2 * overlap)
    model = model.to(device).eval()
    height, width = hr_msi.shape[:2]

    tileable = getattr(model, "tileable", True)
    skip = None
    if not tileable and getattr(model, "takes_skip", False):
        with torch.inference_mode():
            skip = model.skip(_chw(lr_hsi, device), _chw(hr_msi, device))  # (1, C, H, W), the whole image's
        tileable = True

    def run(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        lr = lr_hsi[y0 // scale : y1 // scale, x0 // scale : x1 // scale]
        extra = () if skip is None else (skip[..., y0:y1, x0:x1],)
        with torch.inference_mode():
            out = model(_chw(lr, device), _chw(hr_msi[y0:y1, x0:x1], device), *extra)
        return out[0].permute(1, 2, 0).float().cpu().numpy()

    sink = writer or ArrayWriter(height, width, int(getattr(model, "out_bands", lr_hsi.shape[2])))
    if tileable:
        tile_blended(height, width, round_up(max(int(tile), scale), scale), overlap, run, sink, scale, progress, "fuse")
    else:
        whole_image(height, width, run, sink)
    return None if writer is not None else sink.array
