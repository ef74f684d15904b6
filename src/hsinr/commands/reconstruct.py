"""``hsinr reconstruct RGB --model CKPT -o CUBE``: RGB image of any size → hyperspectral cube, tiled and streamed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import DataError

STREAMED = (".h5", ".hdf5", ".mat", ".hdr", ".npy")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("reconstruct", help="reconstruct a hyperspectral cube from an RGB image")
    p.add_argument("image", help="RGB image (.png/.jpg/.bmp/.tif; 8 or 16 bit, linear RGB expected)")
    p.add_argument("--model", required=True, help="checkpoint (.pt) written by hsinr train")
    p.add_argument("-o", "--output", required=True, help="cube file: .mat (v7.3), .h5, .hdr (ENVI), .npy, .tif, .npz")
    p.add_argument("--tile", type=int, default=256, help="core tile size in pixels (memory grows with it)")
    p.add_argument("--preview", help="also write a false-colour PNG of the result here")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 …")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..checkpoint import load_checkpoint
    from ..cube import Cube
    from ..infer import output_bands, reconstruct
    from ..input_check import input_warnings
    from ..io import open_cube_writer, read_rgb, write_cube, write_rgb

    model, meta = load_checkpoint(args.model, args.device)
    if tuple(getattr(model, "input_keys", ("rgb",))) != ("rgb",):
        raise DataError(f"{args.model}: model {meta['spec']['name']!r} does not take a single RGB image")
    rgb = read_rgb(args.image)
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
            reconstruct(rgb, model, tile=args.tile, writer=sink, progress=not args.quiet)
    else:
        cube = reconstruct(rgb, model, tile=args.tile, progress=not args.quiet)
        if preview:
            preview.write(0, 0, cube)
        write_cube(out, Cube(cube, wavelengths))
    print(f"wrote {out} ({height}x{width}x{len(wavelengths)}, {wavelengths[0]:.0f}-{wavelengths[-1]:.0f} nm)")
    if preview:
        write_rgb(args.preview, preview.image())
        print(f"wrote {args.preview}")
    return 0


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
