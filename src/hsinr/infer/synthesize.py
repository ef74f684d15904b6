"""RGB → remote-sensing HSI with abundances (INSS): :func:`synthesize`, tiled with :mod:`hsinr.infer.tiling`,
and :func:`write_synthesis`, which writes a result to disk (cube, ``.inss.json`` sidecar, abundance TIFF)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn

from ..cube import Cube
from ..device import device_of
from ..errors import ConfigError, DataError
from ..io.atomic import atomic_path, prepare_output_folder, write_text_atomic
from .tiling import ArrayWriter, tile_blended


class Synthesis(NamedTuple):
    """What :func:`synthesize` returns: ``cube (H, W, bands)``, ``abundances (H, W, N_g)`` (non-negative, summing to
    1 per pixel) and the solar-atmosphere factor ``t (bands,)``, float32 numpy."""

    cube: np.ndarray
    abundances: np.ndarray
    t: np.ndarray


def synthesize(
    rgb: np.ndarray, model: nn.Module, tile: int = 512, overlap: int | None = None, progress: bool | None = False
) -> Synthesis:
    """INSS on an ``(H, W, 3)`` float RGB on the scale of the training bands (reflectance ≈ 0–1), tiled.

    Images no larger than ``tile`` pixels take one whole-image pass. Larger ones are cut into windows with origins
    on multiples of the model's padding multiple ``2^(levels−1)`` (so every cell of ``cell × cell`` pixels is the
    same as in a whole-image pass) and blended (:func:`hsinr.infer.tiling.tile_blended`) with ``overlap`` pixels
    (default ``tile // 4``); the U-Net's receptive field is large, so tile seams are feathered, not exact.

    Raises:
        ConfigError: the model has no abundances (not INSS).
        DataError: the image is not ``(H, W, 3)``, or too small for the model: an image no larger than the padding
            multiple in both directions is one value deep in the U-Net, which a narrow model's group normalisation
            cannot normalise; the message gives the size needed.
    """
    if not hasattr(model, "forward_with_abundances"):
        raise ConfigError(f"{type(model).__name__} is not INSS (no abundances to synthesise)")
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DataError(f"INSS needs an (H, W, 3) RGB image, got shape {rgb.shape}")
    model.eval()
    device = device_of(model)
    height, width = rgb.shape[:2]
    bands = int(model.out_bands)
    state: dict = {}

    def run(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(rgb[y0:y1, x0:x1].transpose(2, 0, 1)))[None].to(device)
        with torch.no_grad():
            cube, abundances, t = model.forward_with_abundances(x)
        state["t"] = t.detach().float().cpu().numpy()
        return torch.cat([cube, abundances], dim=1)[0].permute(1, 2, 0).float().cpu().numpy()

    library_size = int(model.library.shape[0])
    sink = ArrayWriter(height, width, bands + library_size)
    align = int(getattr(model, "pad_multiple", 1))
    try:
        tile_blended(
            height, width, tile, tile // 4 if overlap is None else overlap, run, sink, align, progress, "synthesize"
        )
    except (RuntimeError, ValueError) as exc:
        if max(height, width) > align:
            raise
        raise DataError(
            f"a {height}x{width} image is too small for this model (padded to {align}x{align}, its U-Net reduces it "
            f"to one pixel, too few to normalise); give an image of more than {align} pixels in height or width"
        ) from exc
    return Synthesis(sink.array[..., :bands], sink.array[..., bands:], state["t"])


def library_labels(labels: list[str] | None, count: int, stem: str = "spectrum") -> list[str]:
    """A model's per-spectrum labels, or ``stem_0 … stem_{count-1}`` when it has none."""
    return list(labels) if labels is not None else [f"{stem}_{i}" for i in range(count)]


def write_abundance_tiff(path: str | Path, abundances: np.ndarray, names: list[str]) -> None:
    """Abundances ``(H, W, N_g)`` as an ``N_g``-page float32 TIFF; page i's ImageDescription is ``names[i]``.
    Written atomically (:func:`hsinr.io.atomic.atomic_path`)."""
    import tifffile

    path = Path(path)
    prepare_output_folder(path.parent)
    with atomic_path(path) as temporary, tifffile.TiffWriter(temporary) as tiff:
        for index, name in enumerate(names):
            tiff.write(np.ascontiguousarray(abundances[:, :, index], dtype=np.float32), description=name, metadata=None)


def write_synthesis(
    output: str | Path,
    result: Synthesis,
    wavelengths,
    names: list[str],
    classes: list[str],
    provenance: dict,
    abundances_path: str | Path | None = None,
) -> Path:
    """Write the cube to ``output`` (any format of :func:`hsinr.io.write_cube`, with band centres when known), the
    sidecar ``<stem>.inss.json`` (``t``, library names and classes, plus ``provenance``) and, when
    ``abundances_path`` is given, the abundance TIFF, each atomically. Returns the sidecar's path."""
    from ..io import write_cube

    output = Path(output)
    write_cube(output, Cube(result.cube, wavelengths, source=str(output)))
    sidecar = output.with_name(output.stem + ".inss.json")
    write_text_atomic(
        sidecar,
        json.dumps(
            {
                **provenance,
                "wavelengths": None if wavelengths is None else np.asarray(wavelengths).tolist(),
                "t": result.t.tolist(),
                "library_names": names,
                "library_classes": classes,
            },
            indent=1,
        ),
    )
    if abundances_path:
        write_abundance_tiff(abundances_path, result.abundances, names)
    return sidecar
