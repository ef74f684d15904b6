"""``hsinr export CKPT -o MODEL.onnx``: a checkpoint's RGB→HSI model as ONNX with dynamic batch, height and width."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a checkpoint's RGB→HSI model to ONNX (dynamic N, H, W)")
    p.add_argument("checkpoint", help="checkpoint (.pt) written by hsinr train")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write (.onnx)")
    p.add_argument("--opset", type=int, help="ONNX opset version (default 17)")
    p.add_argument(
        "--no-check",
        action="store_true",
        help="do not compare the graph with PyTorch in ONNX Runtime (needed when onnxruntime is absent)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from ..export import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, export_checkpoint

    opset = args.opset or DEFAULT_OPSET
    record = export_checkpoint(args.checkpoint, args.output, opset=opset, check=not args.no_check)
    bands = record["bands"] if record["bands"] is not None else "C"
    print(f"wrote {record['path']} (model {record['model']}, opset {opset})")
    print(f"  input  {INPUT_NAME!r}: float32 (N, 3, H, W), linear RGB in [0, 1] as in training")
    print(
        f"  output {OUTPUT_NAME!r}: float32 (N, {bands}, H, W); N, H, W dynamic, any size (models that pad by "
        "reflection to a multiple m need H, W > m/2: >= 3 for MST++)"
    )
    print("  metadata_props (JSON): hsinr_spec, wavelengths, srf, response, input, hsinr_version")
    for check in record["checks"]:
        print(
            f"  checked {check['batch']}x3x{check['height']}x{check['width']} in ONNX Runtime: "
            f"max |onnx - torch| = {check['max_abs_diff']:.2g} (tolerance {check['tolerance']:.2g})"
        )
    if not record["checks"]:
        print("  not checked against PyTorch (--no-check)")
    return 0
