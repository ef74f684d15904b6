"""Figures: the paper's Fig. 5 band grid with error maps, spectral curves and false-colour previews.

All functions take numpy cubes ``(H, W, C)`` in [0, 1] with their band centres in nm and write PNG files with
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FIG5_WAVELENGTHS = (430, 470, 510, 550, 590, 630, 670)
"""Bands shown in Fig. 5 of the INR-HSISR paper (nm)."""


def nearest_bands(wavelengths, targets=FIG5_WAVELENGTHS) -> list[int]:
    """Indices of the bands nearest each target wavelength (nm)."""
    wavelengths = np.asarray(wavelengths, dtype=np.float64)
    return [int(np.argmin(np.abs(wavelengths - t))) for t in targets]


def false_colour(cube: np.ndarray, srf: np.ndarray | None = None, wavelengths=None) -> np.ndarray:
    """An ``(H, W, 3)`` preview in [0, 1]: ``cube @ srf.T`` when a response is given, else the bands nearest
    640/550/460 nm (or the last/middle/first band), scaled so the 99th percentile is 1."""
    if srf is not None:
        rgb = cube @ np.asarray(srf, dtype=np.float32).T
    else:
        picks = nearest_bands(wavelengths, (640, 550, 460)) if wavelengths is not None else [cube.shape[2] - 1, cube.shape[2] // 2, 0]
        rgb = cube[..., picks]
    scale = np.percentile(rgb, 99) or 1.0
    return np.clip(rgb / scale, 0, 1).astype(np.float32)


def band_grid_figure(path, gt: np.ndarray, predictions: dict[str, np.ndarray], wavelengths,
                     targets=FIG5_WAVELENGTHS, title: str | None = None, error_max: float | None = None) -> Path:
    """Fig. 5 layout: first row the ground-truth bands at ``targets`` nm, then one row per method with the absolute
    difference maps |gt − pred| on a shared colour scale (``error_max``, default the 99th percentile of all errors)."""
    bands = nearest_bands(wavelengths, targets)
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
        axes[i, 0].set_ylabel(name, fontsize=8)
    axes[0, 0].set_ylabel("ground truth", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if predictions:
        fig.colorbar(im, ax=axes[1:, :].ravel().tolist(), shrink=0.8, label="|error|")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def spectra_figure(path, gt: np.ndarray, predictions: dict[str, np.ndarray], wavelengths, pixels=None,
                   title: str | None = None) -> Path:
    """Spectral curves at a few pixels (default: four spread over the image): ground truth vs each method."""
    h, w = gt.shape[:2]
    pixels = pixels or [(h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)]
    fig, axes = plt.subplots(1, len(pixels), figsize=(3.2 * len(pixels), 2.8), squeeze=False)
    for ax, (y, x) in zip(axes[0], pixels):
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
    """Write ``fig`` as PNG to ``path`` (folders created) and free it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
