"""Pad an image batch to a multiple of a network's total downsampling factor, and crop the result back.

Networks that halve the resolution ``k`` times need ``H`` and ``W`` divisible by ``2**k``. We pad at the bottom and
right only, so that cropping ``[..., :H, :W]`` returns exactly the pixels of the input. Reflection padding is used
(it keeps image statistics at the border) unless the image is too small to reflect, then edge replication.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``x`` of shape ``(N, C, H, W)`` at the bottom/right so that ``H`` and ``W`` are multiples of ``multiple``."""
    height, width = x.shape[-2:]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def crop_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Keep the top-left ``height × width`` pixels of ``x`` ``(N, C, H', W')``: undoes :func:`pad_to_multiple`."""
    return x[..., :height, :width]
