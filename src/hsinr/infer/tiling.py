"""The one tiler of the project: exact halo tiling and blended tiling of any per-window computation.

Every inference entry (:func:`hsinr.infer.reconstruct`, :func:`hsinr.infer.fuse`, :func:`hsinr.infer.synthesize`)
cuts its output grid ``(H, W)`` into tiles, asks a ``run(y0, y1, x0, x1) -> (y1 - y0, x1 - x0, C)`` callback for the
model's output on each window, and hands finished blocks to a *sink* (``write(y0, x0, block)``), so that peak memory
is one window's activations plus the rows still being blended (nothing else when the sink streams to disk).

* **Exact halo tiling** (:func:`tile_exact`) — for models with a bounded receptive radius ``R``: each
  ``tile × tile`` core is computed from the core plus a halo of ``R`` pixels on each side (clipped at the image
  border) and only the core is kept, so every output pixel sees the context it sees in a whole-image pass.
* **Blended tiling** (:func:`tile_blended`) — for any model: windows of ``tile`` pixels overlapping by ``overlap``
  pixels, merged with separable weights (:func:`blend_ramp`): 0 on the quarter of the overlap nearest a window's
  inner edge (where its convolutions see padding instead of the neighbouring pixels), a linear ramp over the middle
  half, 1 elsewhere. When ``overlap / 4`` is at least the model's receptive radius, every pixel takes its value only
  from windows in which it is at least ``overlap / 4`` from an inner edge, and the result equals a whole-image pass
  up to float rounding; with less overlap the seams are feathered. Output is produced strip by strip: only the rows
  of the current strip of windows are held.

Both take an ``align``: window origins are multiples of it (the scale of a fusion model, whose LR and HR windows
must correspond; the cell or padding multiple of a model whose output depends on the pixel's phase).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..errors import ConfigError
from ..progress import progress_bar

#: ``run(y0, y1, x0, x1) -> (y1 - y0, x1 - x0, C)`` float32 numpy: the model's output on one window.
WindowFn = Callable[[int, int, int, int], np.ndarray]
#: ``run(window, core) -> (core height, core width, C)``: the output on ``core = (y0, y1, x0, x1)`` computed from the
#: input on ``window = (y0, y1, x0, x1)`` (which contains it), both in image coordinates.
CoreFn = Callable[[tuple[int, int, int, int], tuple[int, int, int, int]], np.ndarray]


class BlockWriter(Protocol):
    """Anything with ``write(y0, x0, block)`` taking an ``(h, w, C)`` float32 block (e.g. ``hsinr.io`` writers)."""

    def write(self, y0: int, x0: int, block: np.ndarray) -> None: ...


class ArrayWriter:
    """A sink that assembles the blocks into one float32 ``(H, W, C)`` array (``.array``)."""

    def __init__(self, height: int, width: int, bands: int):
        self.array = np.empty((height, width, bands), dtype=np.float32)

    def write(self, y0: int, x0: int, block: np.ndarray) -> None:
        self.array[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = block


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ``>= value``."""
    return -(-int(value) // int(multiple)) * int(multiple)


def tile_spans(size: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of the windows along one axis of ``size`` pixels.

    Starts step by ``tile - overlap`` (both multiples of ``align``); the last window starts at the largest multiple
    of ``align`` that lets it end at ``size`` within ``tile + align - 1`` pixels, and ends there. One window when
    ``size <= tile``.
    """
    if size <= tile:
        return [(0, size)]
    stride = tile - overlap
    last = (size - tile) // align * align
    starts = sorted({*range(0, last, stride), last})
    return [(start, start + tile) for start in starts[:-1]] + [(last, size)]


def blend_ramp(length: int, overlap: int, inner_start: bool, inner_end: bool) -> np.ndarray:
    """1-D window weights ``(length,)``: at an inner edge 0 on the first ``overlap // 4`` pixels, then a linear ramp
    up to 1 over the next ``overlap - 2·(overlap // 4)`` pixels; 1 elsewhere (image borders are never weighted
    down). Two windows overlapping by at least ``overlap`` pixels have a positive weight sum everywhere."""
    weight = np.ones(length, dtype=np.float32)
    margin = overlap // 4
    ramp_length = overlap - 2 * margin
    edge = np.concatenate(
        [np.zeros(margin, dtype=np.float32), (np.arange(ramp_length, dtype=np.float32) + 0.5) / max(ramp_length, 1)]
    )
    n = min(edge.size, length)
    if inner_start:
        weight[:n] = np.minimum(weight[:n], edge[:n])
    if inner_end:
        weight[length - n :] = np.minimum(weight[length - n :], edge[:n][::-1])
    return weight


def tile_exact(
    height: int,
    width: int,
    tile: int,
    radius: int,
    run: CoreFn,
    sink: BlockWriter,
    align: int = 1,
    progress: bool | None = None,
    desc: str = "tiles",
) -> None:
    """Exact halo tiling: ``tile × tile`` cores (``tile`` rounded up to ``align``), each computed by ``run`` from its
    window grown by ``radius`` pixels on every side (clipped at the border) and written to ``sink``; core origins
    are multiples of ``align``. ``run`` returns the core only: a model that can skip the halo's output does so."""
    if tile < 1 or radius < 0:
        raise ConfigError(f"tile must be positive and the receptive radius non-negative, got {tile} and {radius}")
    tile = round_up(tile, align)
    origins = [(y, x) for y in range(0, height, tile) for x in range(0, width, tile)]
    show = progress if progress is not None else len(origins) > 1
    columns = len(range(0, width, tile))
    for y0, x0 in progress_bar(origins, desc=desc, unit="tile", enabled=show, line_every=columns):
        y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
        ry0, rx0 = max(y0 - radius, 0), max(x0 - radius, 0)
        ry1, rx1 = min(y1 + radius, height), min(x1 + radius, width)
        sink.write(y0, x0, run((ry0, ry1, rx0, rx1), (y0, y1, x0, x1)))


def tile_blended(
    height: int,
    width: int,
    tile: int,
    overlap: int,
    run: WindowFn,
    sink: BlockWriter,
    align: int = 1,
    progress: bool | None = None,
    desc: str = "tiles",
) -> None:
    """Blended tiling (module docstring): ``tile`` and ``overlap`` are rounded up to multiples of ``align``;
    ``overlap`` must stay below ``tile``. Finished rows are written to ``sink`` strip by strip."""
    tile = round_up(max(int(tile), 1), align)
    overlap = round_up(max(int(overlap), 0), align)
    if overlap >= tile:
        raise ConfigError(f"overlap {overlap} must be smaller than the tile {tile} (both rounded to {align})")
    rows, cols = tile_spans(height, tile, overlap, align), tile_spans(width, tile, overlap, align)
    show = progress if progress is not None else len(rows) * len(cols) > 1
    bar = progress_bar(total=len(rows) * len(cols), desc=desc, unit="tile", enabled=show, line_every=len(cols))
    acc = weight = None  # accumulated rows [buf_y0, buf_y0 + len(acc)) of the full width
    buf_y0 = 0
    for iy, (y0, y1) in enumerate(rows):
        wy = blend_ramp(y1 - y0, overlap, y0 > 0, y1 < height)
        for x0, x1 in cols:
            out = run(y0, y1, x0, x1)
            if acc is None:
                acc = np.zeros((0, width, out.shape[2]), dtype=np.float32)
                weight = np.zeros((0, width, 1), dtype=np.float32)
            if y1 > buf_y0 + acc.shape[0]:  # grow the buffer down to this strip's last row
                grow = y1 - buf_y0 - acc.shape[0]
                acc = np.concatenate([acc, np.zeros((grow, width, acc.shape[2]), dtype=np.float32)])
                weight = np.concatenate([weight, np.zeros((grow, width, 1), dtype=np.float32)])
            w = (wy[:, None] * blend_ramp(x1 - x0, overlap, x0 > 0, x1 < width)[None, :])[..., None]
            acc[y0 - buf_y0 : y1 - buf_y0, x0:x1] += out * w
            weight[y0 - buf_y0 : y1 - buf_y0, x0:x1] += w
            bar.update()
        done = (rows[iy + 1][0] if iy + 1 < len(rows) else height) - buf_y0  # rows no later strip touches
        if done > 0:
            sink.write(buf_y0, 0, acc[:done] / weight[:done])
            acc, weight, buf_y0 = acc[done:], weight[done:], buf_y0 + done
    bar.close()


def whole_image(height: int, width: int, run: WindowFn, sink: BlockWriter) -> None:
    """One window covering the whole image (for methods that fit themselves to each image)."""
    sink.write(0, 0, run(0, height, 0, width))
