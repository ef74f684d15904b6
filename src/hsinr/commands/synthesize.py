"""``hsinr synthesize``: RGB image → remote-sensing HSI, abundance maps and solar-atmosphere vector with INSS.

    hsinr synthesize rgb.png --model best.pt -o cube.mat [--abundances abund.tif] [--figures figs/]

Writes the cube (any format :func:`hsinr.io.write_cube` knows, with band centres when the checkpoint has them), a
sidecar ``<output stem>.inss.json`` with t (per band) and the library names, optionally the abundances as a
multi-page float32 TIFF (one page per library spectrum, its name in the page's ImageDescription), and optionally
figures: a false-colour image, abundance maps per library class and the estimated t.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("synthesize", help="RGB -> hyperspectral cube + abundance maps with an INSS checkpoint")
    p.add_argument("rgb", help="input RGB image (PNG/TIFF/JPEG, or a float TIFF)")
    p.add_argument("--model", required=True, help="INSS checkpoint (.pt)")
    p.add_argument("-o", "--output", required=True, help="output cube (.mat, .h5, .hdr, .tif, .npy, .npz)")
    p.add_argument("--abundances", help="write the abundance maps to this multi-page TIFF")
    p.add_argument("--figures", help="write PNG figures (false colour, abundances, t) into this folder")
    p.add_argument(
        "--input-scale",
        type=float,
        default=1.0,
        help="multiply the RGB by this first; INSS expects the scale of its training bands "
        "(reflectance ~0-1 for the remote cubes), default 1",
    )
    p.add_argument("--tile", type=int, default=512, help="tile side in pixels; larger images are tiled (default 512)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..checkpoint import load_checkpoint
    from ..infer.synthesize import library_labels, synthesize, write_synthesis
    from ..io import check_cube_output, read_rgb
    from ..io.atomic import check_output_folder, prepare_output_folder
    from ..report.abundances import save_synthesis_figures
    from .reconstruct import check_device

    check_device(args.device)
    check_cube_output(args.output)  # outputs that cannot be written fail before the model runs
    if args.abundances:
        check_output_folder(args.abundances)
    if args.figures:
        prepare_output_folder(args.figures)
    model, meta = load_checkpoint(args.model, device=args.device)
    if not hasattr(model, "forward_with_abundances"):
        raise ConfigError(f"{args.model}: model {meta['spec']['name']!r} is not INSS (no abundances to synthesise)")
    rgb = read_rgb(args.rgb) * np.float32(args.input_scale)
    try:
        result = synthesize(rgb, model, tile=args.tile)
    except DataError as exc:
        raise DataError(f"{args.rgb}: {exc}") from None
    wavelengths = np.asarray(meta["wavelengths"], dtype=np.float64) if meta.get("wavelengths") else None
    names = library_labels(model.library_names, result.abundances.shape[2])
    classes = list(model.library_classes) if model.library_classes is not None else names  # one class per spectrum
    provenance = {"input": str(args.rgb), "model": str(args.model), "input_scale": args.input_scale}
    sidecar = write_synthesis(args.output, result, wavelengths, names, classes, provenance, args.abundances)
    print(f"wrote {args.output} ({'x'.join(map(str, result.cube.shape))}) and {sidecar}")
    if args.abundances:
        print(f"wrote {args.abundances} ({result.abundances.shape[2]} abundance maps)")
    if args.figures:
        written = save_synthesis_figures(
            args.figures, result.cube, result.abundances, result.t, wavelengths, classes, meta.get("srf")
        )
        print(f"wrote {len(written)} figures to {args.figures}")
    return 0
