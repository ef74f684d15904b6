"""Tiled, memory-bounded inference for images of any size.

Two tiling modes, chosen from the model:

* **Exact halo tiling** — for models that declare a bounded :meth:`receptive_radius` (INR-HSISR with local or no
  normalisation). Each ``tile``×``tile`` core is computed from the core plus a halo of ``receptive_radius`` pixels on
  every side (clipped at the image border), with tile origins aligned to the model's cell grid, and only the core is
  kept. Every output pixel then sees exactly the context it sees in a whole-image pass, so tiles have no seams and
  agree with the whole-image result up to float32 rounding of the convolutions (tested to 1e-4 absolute; observed
  differences are ~1e-6).
* **Blended tiling** — for other models (the CNN baselines, whose receptive field is large or unbounded): tiles of
  ``tile`` pixels overlapping by ``overlap`` pixels, merged with separable linear (feathering) weights. Output is
  produced strip by strip so that only ``tile + overlap`` rows of the full width are held at once.

Peak memory is bounded by one tile's activations (exact mode: ``(tile + 2·radius)²`` pixels of the model's
activations) plus, when a ``writer`` is given, nothing else: the cube is streamed to disk tile by tile. Without a
writer the result is returned as one float32 ``(H, W, C)`` array.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm


class BlockWriter(Protocol):
    """Anything with ``write(y0, x0, block)`` taking an ``(h, w, C)`` float32 block (e.g. ``hsinr.io`` writers)."""

    def write(self, y0: int, x0: int, block: np.ndarray) -> None: ...


class _ArrayWriter:
    def __init__(self, height: int, width: int, bands: int):
        self.array = np.empty((height, width, bands), dtype=np.float32)

    def write(self, y0: int, x0: int, block: np.ndarray) -> None:
        self.array[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = block


def output_bands(model: nn.Module) -> int:
    """Bands a model produces (its ``out_bands`` attribute, else found by a tiny forward pass)."""
    bands = getattr(model, "out_bands", None)
    if bands is None:
        with torch.no_grad():
            bands = model(torch.zeros(1, 3, 16, 16, device=_device_of(model))).shape[1]
    return int(bands)


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(iter(model.parameters()), None)
    buffer = next(iter(model.buffers()), None)
    tensor = parameter if parameter is not None else buffer
    return tensor.device if tensor is not None else torch.device("cpu")


def _run(model: nn.Module, rgb: np.ndarray, **kwargs) -> np.ndarray:
    """One forward pass on an ``(h, w, 3)`` numpy block → ``(h, w, C)`` float32 numpy."""
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(_device_of(model))
    with torch.no_grad():
        y = model(x, **kwargs)
    return y[0].permute(1, 2, 0).float().cpu().numpy()


def reconstruct(
    rgb: np.ndarray,
    model: nn.Module,
    *,
    tile: int = 256,
    overlap: int | None = None,
    writer: BlockWriter | None = None,
    progress: bool | None = None,
) -> np.ndarray | None:
    """Reconstruct a cube from an ``(H, W, 3)`` float32 RGB image in [0, 1] with any model of the registry.

    Args:
        rgb: the input image, linear RGB in [0, 1] (as the model was trained), ``(H, W, 3)``.
        model: an ``nn.Module`` taking ``(N, 3, H, W)``; put it on the device you want first.
        tile: core tile size in pixels (rounded up to the model's alignment).
        overlap: blended mode only: overlap between tiles in pixels (default ``tile // 4``).
        writer: optional ``write(y0, x0, block)`` sink; then nothing is accumulated and ``None`` is returned.
        progress: show a progress bar (default: when there is more than one tile).

    Returns:
        ``(H, W, C)`` float32 cube, or ``None`` when ``writer`` is given.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    model.eval()
    sink = writer or _ArrayWriter(height, width, output_bands(model))
    radius_fn: Callable[[], int | None] | None = getattr(model, "receptive_radius", None)
    radius = radius_fn() if radius_fn else None
    if radius is not None:
        _reconstruct_exact(rgb, model, tile, radius, sink, progress)
    else:
        _reconstruct_blended(rgb, model, tile, tile // 4 if overlap is None else overlap, sink, progress)
    return None if writer is not None else sink.array


def _reconstruct_exact(rgb, model, tile, radius, sink, progress) -> None:
    height, width = rgb.shape[:2]
    align = int(getattr(model, "alignment", 1))
    tile = int(math.ceil(tile / align) * align)
    origins = [(y, x) for y in range(0, height, tile) for x in range(0, width, tile)]
    show = progress if progress is not None else len(origins) > 1
    for y0, x0 in tqdm(origins, desc="reconstruct", unit="tile", disable=not show):
        y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
        ry0, rx0 = max(y0 - radius, 0), max(x0 - radius, 0)
        ry1, rx1 = min(y1 + radius, height), min(x1 + radius, width)
        out = _run(model, rgb[ry0:ry1, rx0:rx1], origin=(ry0, rx0), full_size=(height, width))
        sink.write(y0, x0, out[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0])


def feather_weights(length: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    """1-D blending weights: linear ramps over ``overlap`` pixels at inner edges, 1 elsewhere; strictly positive."""
    w = np.ones(length, dtype=np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / max(overlap, 1)
    if overlap and not at_start:
        w[: min(overlap, length)] = ramp[: min(overlap, length)]
    if overlap and not at_end:
        w[-min(overlap, length) :] = np.minimum(w[-min(overlap, length) :], ramp[::-1][-min(overlap, length) :])
    return w


def _starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride)) + [size - tile]
    return sorted(set(starts))


def _reconstruct_blended(rgb, model, tile, overlap, sink, progress) -> None:
    height, width = rgb.shape[:2]
    overlap = min(overlap, tile // 2)
    stride = tile - overlap
    ys, xs = _starts(height, tile, stride), _starts(width, tile, stride)
    bands = None
    carry_acc = carry_w = None  # rows already touched by the previous strip, still waiting for more weight
    carry_y0 = 0
    bar = tqdm(total=len(ys) * len(xs), desc="reconstruct", unit="tile",
               disable=not (progress if progress is not None else len(ys) * len(xs) > 1))
    for iy, y0 in enumerate(ys):
        th = min(tile, height - y0)
        wy = feather_weights(th, overlap, iy == 0, iy == len(ys) - 1)
        acc = None
        weight = np.zeros((th, width, 1), dtype=np.float32)
        for ix, x0 in enumerate(xs):
            tw = min(tile, width - x0)
            out = _run(model, rgb[y0 : y0 + th, x0 : x0 + tw])
            if acc is None:
                bands = out.shape[2]
                acc = np.zeros((th, width, bands), dtype=np.float32)
            w = (wy[:, None] * feather_weights(tw, overlap, ix == 0, ix == len(xs) - 1)[None, :])[..., None]
            acc[:, x0 : x0 + tw] += out * w
            weight[:, x0 : x0 + tw] += w
            bar.update()
        if carry_acc is not None:  # merge the rows shared with the previous strip
            shared = carry_y0 + carry_acc.shape[0] - y0
            acc[:shared] += carry_acc[-shared:]
            weight[:shared] += carry_w[-shared:]
            # rows of the previous strip above this one are final
            done = carry_acc.shape[0] - shared
            if done:
                sink.write(carry_y0, 0, carry_acc[:done] / carry_w[:done])
        next_y0 = ys[iy + 1] if iy + 1 < len(ys) else height
        keep = y0 + th - next_y0  # rows the next strip will also cover
        if keep > 0:
            carry_acc, carry_w, carry_y0 = acc, weight, y0
        else:
            sink.write(y0, 0, acc / weight)
            carry_acc = carry_w = None
    bar.close()
