"""Figures: the paper's Fig. 5 band grid with error maps, spectral curves and false-colour previews.

All functions take numpy cubes ``(H, W, C)`` in [0, 1] with their band centres in nm and write PNG files with
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import DataError  # noqa: E402
from ..io.atomic import atomic_path, prepare_output_folder  # noqa: E402
from ..spectral.resample import nearest_bands  # noqa: E402

FIG5_WAVELENGTHS = (430, 470, 510, 550, 590, 630, 670)
"""Bands shown in Fig. 5 of the INR-HSISR paper (nm)."""


FALSE_COLOUR_NM = (640, 550, 460)
"""Red, green and blue bands of a false-colour preview without a camera response (nm)."""


def false_colour_rgb(cube: np.ndarray, srf: np.ndarray | None = None, wavelengths=None) -> np.ndarray:
    """Unscaled false colour ``(H, W, 3)`` of a ``(H, W, C)`` cube, or of any block of one.

    ``cube @ srf.T`` when a ``(3, C)`` response is given, else the bands nearest :data:`FALSE_COLOUR_NM`
    (:func:`~hsinr.spectral.resample.nearest_bands`), else (no wavelengths) the last, middle and first bands. It works
    pixel by pixel, so a tiler can build a preview block by block and scale it once with :func:`stretch_for_display`.
    """
    if srf is not None:
        return np.asarray(cube, dtype=np.float32) @ np.asarray(srf, dtype=np.float32).T
    if wavelengths is not None:
        picks = nearest_bands(wavelengths, FALSE_COLOUR_NM)
    else:
        picks = np.array([cube.shape[2] - 1, cube.shape[2] // 2, 0])
    return np.asarray(cube[..., picks], dtype=np.float32)


def stretch_for_display(
    rgb: np.ndarray, percentiles: tuple[float, float] = (0.0, 99.0), per_channel: bool = False
) -> np.ndarray:
    """Map ``rgb`` to [0, 1] for display: ``(rgb − low) / (high − low)``, clipped.

    ``high`` is the ``percentiles[1]`` percentile, ``low`` the ``percentiles[0]`` one (0 when that is 0, so the
    default only divides by the 99th percentile and keeps the colour balance); ``per_channel`` takes them for each
    channel (a stronger stretch that changes the balance). A zero range leaves the values unscaled.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    axis = (0, 1) if per_channel else None
    low = np.percentile(rgb, percentiles[0], axis=axis) if percentiles[0] > 0 else 0.0
    span = np.percentile(rgb, percentiles[1], axis=axis) - low
    span = np.where(span > 0, span, 1.0)
    return np.clip((rgb - low) / span, 0, 1).astype(np.float32)


def false_colour(cube: np.ndarray, srf: np.ndarray | None = None, wavelengths=None) -> np.ndarray:
    """An ``(H, W, 3)`` preview in [0, 1]: :func:`false_colour_rgb` scaled so its 99th percentile is 1."""
    return stretch_for_display(false_colour_rgb(cube, srf, wavelengths))


def band_grid_figure(
    path,
    gt: np.ndarray,
    predictions: dict[str, np.ndarray],
    wavelengths,
    targets=FIG5_WAVELENGTHS,
    title: str | None = None,
    error_max: float | None = None,
) -> Path:
    """Fig. 5 layout: first row the ground-truth bands at ``targets`` nm, then one row per method with the absolute
    difference maps |gt − pred| on a shared colour scale (``error_max``, default the 99th percentile of all errors).
    A cube with no band near some target (a few remote-sensing bands) shows up to ``len(targets)`` of its own bands,
    evenly spaced, instead."""
    try:
        bands = nearest_bands(wavelengths, targets)
    except DataError:
        count = min(len(targets), gt.shape[-1])
        bands = np.unique(np.linspace(0, gt.shape[-1] - 1, count).round().astype(int))
    errors = {name: np.abs(gt[..., bands] - pred[..., bands]) for name, pred in predictions.items()}
    vmax = error_max or float(max(np.percentile(e, 99) for e in errors.values()) if errors else 1.0) or 1.0
    rows = 1 + len(predictions)
    fig, axes = plt.subplots(rows, len(bands), figsize=(1.6 * len(bands), 1.7 * rows), squeeze=False)
    for j, b in enumerate(bands):
        axes[0, j].imshow(gt[..., b], cmap="gray", vmin=0, vmax=max(float(gt.max()), 1e-6))
        axes[0, j].set_title(f"{float(np.asarray(wavelengths)[b]):.0f} nm", fontsize=8)
    for i, (name, err) in enumerate(errors.items(), start=1):
        for j in range(len(bands)):
            im = axes[i, j].imshow(err[..., j], cmap="inferno", vmin=0, vmax=vmax)
        axes[i, 0].set_ylabel(textwrap.fill(name, 18), fontsize=8)  # long method names over two or three lines
    axes[0, 0].set_ylabel("ground truth", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if predictions:
        # taken from every row's width alike, so the error maps stay under the ground-truth bands
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="|error|")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def spectra_figure(
    path, gt: np.ndarray, predictions: dict[str, np.ndarray], wavelengths, pixels=None, title: str | None = None
) -> Path:
    """Spectral curves at a few pixels (default: four spread over the image): ground truth vs each method."""
    h, w = gt.shape[:2]
    pixels = pixels or [(h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)]
    fig, axes = plt.subplots(1, len(pixels), figsize=(3.2 * len(pixels), 2.8), squeeze=False)
    for ax, (y, x) in zip(axes[0], pixels, strict=True):
        ax.plot(wavelengths, gt[y, x], "k-", lw=2, label="ground truth")
        for name, pred in predictions.items():
            ax.plot(wavelengths, pred[y, x], lw=1, label=name)
        ax.set_title(f"pixel (row {y}, col {x})", fontsize=8)
        ax.set_xlabel("wavelength (nm)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("value", fontsize=8)
    axes[0, -1].legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _save(fig, path) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (folders created; see :mod:`hsinr.io.atomic`) and free it."""
    path = Path(path)
    prepare_output_folder(path.parent)
    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
