"""``hsinr synthesize``: RGB image → remote-sensing HSI, abundance maps and solar-atmosphere vector with INSS.

    hsinr synthesize rgb.png --model best.pt -o cube.mat [--abundances abund.tif] [--figures figs/]

Writes the cube (any format :func:`hsinr.io.write_cube` knows, with band centres when the checkpoint has them), a
sidecar ``<output stem>.inss.json`` with t (per band) and the library names, optionally the abundances as a
multi-page float32 TIFF (one page per library spectrum, its name in the page's ImageDescription), and optionally
figures: a false-colour image, abundance maps per library class and the estimated t.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..cube import Cube
from ..errors import ConfigError, DataError

MAX_ABUNDANCE_PANELS = 12


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("synthesize", help="RGB -> hyperspectral cube + abundance maps with an INSS checkpoint")
    p.add_argument("rgb", help="input RGB image (PNG/TIFF/JPEG, or a float TIFF)")
    p.add_argument("--model", required=True, help="INSS checkpoint (.pt)")
    p.add_argument("-o", "--output", required=True, help="output cube (.mat, .h5, .hdr, .tif, .npy, .npz)")
    p.add_argument("--abundances", help="write the abundance maps to this multi-page TIFF")
    p.add_argument("--figures", help="write PNG figures (false colour, abundances, t) into this folder")
    p.add_argument("--input-scale", type=float, default=1.0,
                   help="multiply the RGB by this first; INSS expects the scale of its training bands "
                        "(reflectance ~0-1 for the remote cubes), default 1")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..checkpoint import load_checkpoint
    from ..io import read_rgb, write_cube

    model, meta = load_checkpoint(args.model, device=args.device)
    if not hasattr(model, "forward_with_abundances"):
        raise ConfigError(f"{args.model}: model {meta['spec']['name']!r} is not INSS (no abundances to synthesise)")
    rgb = read_rgb(args.rgb) * np.float32(args.input_scale)
    cube, abundances, t = synthesize(model, rgb)
    wavelengths = np.asarray(meta["wavelengths"], dtype=np.float64) if meta.get("wavelengths") else None
    names = _library_labels(model.library_names, abundances.shape[2], "spectrum")
    classes = list(model.library_classes) if model.library_classes is not None else names  # one class per spectrum
    output = Path(args.output)
    write_cube(output, Cube(cube, wavelengths, source=str(output)))
    sidecar = output.with_name(output.stem + ".inss.json")
    sidecar.write_text(json.dumps({
        "input": str(args.rgb), "model": str(args.model), "input_scale": args.input_scale,
        "wavelengths": None if wavelengths is None else wavelengths.tolist(),
        "t": t.tolist(), "library_names": names, "library_classes": classes,
    }, indent=1))
    print(f"wrote {output} ({cube.shape[0]}x{cube.shape[1]}x{cube.shape[2]}) and {sidecar}")
    if args.abundances:
        write_abundance_tiff(args.abundances, abundances, names)
        print(f"wrote {args.abundances} ({abundances.shape[2]} abundance maps)")
    if args.figures:
        written = save_figures(args.figures, cube, abundances, t, wavelengths, classes, meta.get("srf"))
        print(f"wrote {len(written)} figures to {args.figures}")
    return 0


def synthesize(model: torch.nn.Module, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One whole-image INSS pass on an ``(H, W, 3)`` float RGB.

    Returns:
        ``(cube (H, W, bands), abundances (H, W, N_g), t (bands,))`` float32 numpy arrays.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DataError(f"INSS needs an (H, W, 3) RGB image, got shape {rgb.shape}")
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(device)
    with torch.no_grad():
        cube, abundances, t = model.forward_with_abundances(x)
    cube_hwc = cube[0].permute(1, 2, 0).float().cpu().numpy()
    abundances_hwc = abundances[0].permute(1, 2, 0).float().cpu().numpy()
    return cube_hwc, abundances_hwc, t.detach().float().cpu().numpy()


def write_abundance_tiff(path: str | Path, abundances: np.ndarray, names: list[str]) -> None:
    """Abundances ``(H, W, N_g)`` as an ``N_g``-page float32 TIFF; page i's ImageDescription is ``names[i]``."""
    import tifffile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tiff:
        for index, name in enumerate(names):
            tiff.write(np.ascontiguousarray(abundances[:, :, index], dtype=np.float32), description=name,
                       metadata=None)


def class_abundances(abundances: np.ndarray, classes: list[str]) -> tuple[list[str], np.ndarray]:
    """Sum the abundances of the spectra of each class: ``(names sorted by mean abundance, (H, W, K))``."""
    labels = sorted(set(classes))
    summed = np.stack([abundances[:, :, [c == label for c in classes]].sum(axis=2) for label in labels], axis=2)
    order = np.argsort(-summed.mean(axis=(0, 1)), kind="stable")
    return [labels[i] for i in order], summed[:, :, order]


def save_figures(folder: str | Path, cube: np.ndarray, abundances: np.ndarray, t: np.ndarray,
                 wavelengths: np.ndarray | None, classes: list[str], srf) -> list[Path]:
    """PNG figures: ``false_colour.png`` (the synthesised cube through the training RGB picks ``srf``, 2–98 %
    stretch), ``abundances.png`` (per-class summed abundances, the most abundant classes first) and ``t.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
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
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _library_labels(labels: list[str] | None, count: int, stem: str) -> list[str]:
    """The model's per-spectrum labels, or ``stem_0 … stem_{count-1}`` when it has none."""
    return list(labels) if labels is not None else [f"{stem}_{i}" for i in range(count)]
