"""``hsinr reconstruct RGB [--model NAME|CKPT] -o CUBE``: RGB image of any size → cube, tiled and streamed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..spectral.encoding import INPUT_CHOICES

STREAMED = (".h5", ".hdf5", ".mat", ".hdr", ".npy")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("reconstruct", help="reconstruct a hyperspectral cube from an RGB image")
    p.add_argument("image", help="RGB image (.png/.jpg/.bmp/.tif; 8 or 16 bit or float)")
    p.add_argument(
        "--model",
        help="pretrained model name (see hsinr models; default: the registry's default, srgb) "
        "or a checkpoint (.pt) written by hsinr train",
    )
    p.add_argument(
        "--input",
        default="auto",
        choices=INPUT_CHOICES,
        help="encoding of the image's values: auto (8-bit files are sRGB, 16-bit and float are linear), "
        "linear, or srgb (decoded with the sRGB transfer function)",
    )
    p.add_argument(
        "--keep-exposure",
        action="store_true",
        help="feed the values as they are (default: scale the image to the training images' exposure level "
        "(white level; mean level for older checkpoints) and the cube back, so a photo twice as bright gives a "
        "cube twice as bright)",
    )
    p.add_argument("-o", "--output", required=True, help="cube file: .mat (v7.3), .h5, .hdr (ENVI), .npy, .tif, .npz")
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help="core tile size in pixels; memory grows with it (default 1024 for INR-HSISR models, whose tiles are "
        "exact, 256 for the others)",
    )
    p.add_argument("--preview", help="also write a false-colour PNG of the result here")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 …")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from functools import partial

    from ..cube import Cube
    from ..infer import output_bands, reconstruct
    from ..input_check import input_warnings
    from ..io import open_cube_writer, read_rgb, write_cube, write_rgb
    from ..pretrained import load_model
    from ..spectral.encoding import (
        choose_input_encoding,
        decode_rgb,
        exposure_factor,
        reconstruct_at_exposure,
        reference_level,
    )

    check_options(args)  # before anything is loaded or written
    model, meta = load_model(args.model, args.device)
    if tuple(getattr(model, "input_keys", ("rgb",))) != ("rgb",):
        raise DataError(f"{meta['source']}: model {meta['spec']['name']!r} does not take a single RGB image")
    rgb = read_rgb(args.image)
    encoding, note = choose_input_encoding(args.image, args.input)
    if note:
        print(f"input: {note}", file=sys.stderr)
    rgb = decode_rgb(rgb, encoding)
    predict = partial(reconstruct, model=model, tile=args.tile, progress=not args.quiet)
    reference = None if args.keep_exposure else reference_level(meta)
    if reference is not None:
        try:  # a black image has no exposure to normalise: say so, naming the file, before any output is opened
            exposure_factor(rgb, reference)
        except DataError as exc:
            raise DataError(f"{args.image}: {exc}; --keep-exposure reconstructs it as it is") from None
    for warning in input_warnings(rgb, meta, args.image):
        print(f"warning: {warning}", file=sys.stderr)
    wavelengths = np.asarray(meta.get("wavelengths") or np.linspace(400, 700, output_bands(model)))
    height, width = rgb.shape[:2]
    out = Path(args.output)
    srf = np.asarray(meta["srf"], dtype=np.float32) if meta.get("srf") is not None else None
    preview = _PreviewTee(height, width, srf, wavelengths) if args.preview else None
    if out.suffix.lower() in STREAMED:
        with open_cube_writer(out, (height, width, len(wavelengths)), wavelengths) as writer:
            sink = preview.wrap(writer) if preview else writer
            reconstruct_at_exposure(rgb, predict, reference, writer=sink)
    else:
        cube, _ = reconstruct_at_exposure(rgb, predict, reference)
        if preview:
            preview.write(0, 0, cube)
        write_cube(out, Cube(cube, wavelengths))
    print(f"wrote {out} ({height}x{width}x{len(wavelengths)}, {wavelengths[0]:.0f}-{wavelengths[-1]:.0f} nm)")
    if preview:
        write_rgb(args.preview, preview.image())
        print(f"wrote {args.preview}")
    return 0


def check_device(name: str) -> None:
    """:class:`DataError` for a device name torch does not know or a GPU that is not there."""
    import torch

    from ..device import availability_problem

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise DataError(f"--device {name!r}: not a device; use cpu, cuda, cuda:N or mps") from None
    problem = availability_problem(device)
    if problem is not None:
        advice = "" if problem.startswith("this machine has") else "; use --device cpu"
        raise DataError(f"--device {name}: {problem}{advice}")


def output_files(path: Path) -> set[Path]:
    """The files a cube written to ``path`` occupies (an ENVI header and its data file, a .npy and its sidecar)."""
    from ..io.envi import envi_pair
    from ..io.numpy_files import sidecar_of

    suffix = path.suffix.lower()
    files = set(envi_pair(path)) if suffix in (".hdr", ".img") else {path}
    if suffix == ".npy":
        files.add(sidecar_of(path))
    return {file.resolve() for file in files}


def check_options(args) -> None:
    """Refuse options that cannot work before the model is loaded: a tile < 1, an unknown or absent device, a
    preview that would overwrite the cube, an output that is a folder, whose folder does not exist or cannot be
    written in, or whose extension names no cube format (:func:`hsinr.io.check_cube_output`)."""
    from ..io import check_cube_output
    from ..io.atomic import check_output_folder

    if args.tile is not None and args.tile < 1:
        raise DataError(f"--tile {args.tile}: the tile size is a number of pixels >= 1 (e.g. 256)")
    check_device(args.device)
    out = check_cube_output(args.output)
    if args.preview:
        preview = Path(args.preview)
        if preview.resolve() in output_files(out):
            raise DataError(f"--preview {preview} would overwrite the cube written to -o {out}; give another name")
        check_output_folder(preview)


class _PreviewTee:
    """Builds the false-colour preview tile by tile (an (H, W, 3) array, never the whole cube)."""

    def __init__(self, height, width, srf, wavelengths):
        from ..report.figures import nearest_bands

        self.rgb = np.zeros((height, width, 3), dtype=np.float32)
        self.srf = srf
        self.picks = None if srf is not None else nearest_bands(wavelengths, (640, 550, 460))
        self.sink = None

    def wrap(self, sink):
        self.sink = sink
        return self

    def write(self, y0, x0, block):
        part = block @ self.srf.T if self.srf is not None else block[..., self.picks]
        self.rgb[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = part
        if self.sink is not None:
            self.sink.write(y0, x0, block)

    def image(self):
        scale = float(np.percentile(self.rgb, 99)) or 1.0
        return np.clip(self.rgb / scale, 0, 1)
