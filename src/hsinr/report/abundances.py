"""Figures of a synthesis (INSS): false colour, abundance maps per library class, the solar-atmosphere factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path, prepare_output_folder

MAX_ABUNDANCE_PANELS = 12


def class_abundances(abundances: np.ndarray, classes: list[str]) -> tuple[list[str], np.ndarray]:
    """Sum the abundances ``(H, W, N_g)`` of the spectra of each class: ``(names sorted by mean abundance,
    (H, W, K))``."""
    labels = sorted(set(classes))
    summed = np.stack([abundances[:, :, [c == label for c in classes]].sum(axis=2) for label in labels], axis=2)
    order = np.argsort(-summed.mean(axis=(0, 1)), kind="stable")
    return [labels[i] for i in order], summed[:, :, order]


def save_synthesis_figures(
    folder: str | Path,
    cube: np.ndarray,
    abundances: np.ndarray,
    t: np.ndarray,
    wavelengths: np.ndarray | None,
    classes: list[str],
    srf,
) -> list[Path]:
    """PNG figures: ``false_colour.png`` (the synthesised cube ``(H, W, bands)`` through the training RGB picks
    ``srf`` ``(3, bands)``, 2–98 % stretch), ``abundances.png`` (per-class summed abundances, the most abundant
    classes first) and ``t.png`` (t against wavelength in nm, or band index)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = prepare_output_folder(folder)
    written = []
    if srf is not None:
        false_colour = cube @ np.asarray(srf, dtype=np.float32).T
        low, high = np.percentile(false_colour, [2, 98], axis=(0, 1))
        stretched = np.clip((false_colour - low) / np.maximum(high - low, 1e-12), 0, 1)
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.imshow(stretched)
        ax.set_title("synthesised HSI, false colour (training RGB bands)")
        ax.axis("off")
        written.append(_save(fig, folder / "false_colour.png"))
    labels, maps = class_abundances(abundances, classes)
    shown = min(len(labels), MAX_ABUNDANCE_PANELS)
    cols = min(shown, 4)
    rows = -(-shown // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for index in range(shown):
        ax = axes.ravel()[index]
        image = ax.imshow(maps[:, :, index], vmin=0, vmax=1, cmap="viridis")
        ax.set_title(labels[index], fontsize=8)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.7, label="abundance")
    written.append(_save(fig, folder / "abundances.png"))
    fig, ax = plt.subplots(figsize=(6, 3))
    x = wavelengths if wavelengths is not None else np.arange(t.size)
    ax.plot(x, t)
    ax.set_xlabel("wavelength (nm)" if wavelengths is not None else "band")
    ax.set_ylabel("t (solar-atmosphere factor)")
    written.append(_save(fig, folder / "t.png"))
    return written


def _save(fig, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (see :mod:`hsinr.io.atomic`) and free it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
