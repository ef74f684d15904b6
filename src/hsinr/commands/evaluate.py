"""``hsinr evaluate CKPT --data KIND ROOT``: per-scene and mean metrics, Markdown/CSV/JSON, Fig. 5 figures."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a checkpoint on a dataset split")
    p.add_argument("checkpoint", help="checkpoint file (best.pt / last.pt)")
    p.add_argument(
        "--data",
        nargs=2,
        metavar=("KIND", "ROOT"),
        required=True,
        help="dataset kind (cave, arad, icvl, harvard, nus, folder) and its folder",
    )
    p.add_argument("-o", "--out", default="evaluation", help="output folder")
    p.add_argument("--subset", default="test", choices=("train", "val", "test", "all"))
    p.add_argument("--split", help="split.json to use instead of the checkpoint's")
    p.add_argument("--response", help="camera response to render RGB (default: the checkpoint's)")
    p.add_argument("--tile", type=int, default=512, help="tile size for inference")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluate import evaluate_checkpoint
    from ..report import format_markdown
    from .reconstruct import check_device

    check_device(args.device)
    result = evaluate_checkpoint(
        args.checkpoint,
        args.data[0],
        args.data[1],
        args.out,
        subset=args.subset,
        split_file=args.split,
        response=args.response,
        tile=args.tile,
        figures=not args.no_figures,
        device=args.device,
        progress=not args.quiet,
    )
    print(format_markdown(result["per_scene"], "Per scene"))
    print(format_markdown(result["mean"], "Mean"))
    print(f"tables and figures written to {args.out}/")
    return 0
