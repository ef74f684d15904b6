"""Ship a trained checkpoint as a pretrained weight: copy it into the package and record it in the registry.

Usage::

    hsinr train configs/pretrained/srgb.yaml -o runs/pretrained_srgb
    python benchmarks/register_pretrained.py runs/pretrained_srgb --name srgb \\
        [--heldout heldout_srgb.json] [--training-data "..."] [--steps N] [--default] [--registry DIR]

``RUN_DIR`` is a run folder (its ``best.pt`` is used) or a checkpoint file. The training state (optimiser, scheduler,
RNG) is dropped; the file lands in ``src/hsinr/pretrained/weights/<name>.pt`` and ``registry.json`` gets its SHA-256,
size, parameter count, camera response, architecture, training data and steps. ``--heldout`` is a JSON object of the
held-out scores of the same recipe trained without the test scenes (see ``docs/pretrained.md``), for example
``{"psnr": 38.8, "sam": 9.6, "protocol": "...", "root_polynomial_ls": {"psnr": 37.8, "sam": 20.4}}``.
Prints the entry as JSON. Exit code 2 with one line on a user error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hsinr.errors import HsinrError
from hsinr.pretrained import register_weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="run folder with best.pt, or a checkpoint file")
    parser.add_argument("--name", required=True, help="registry name, e.g. srgb, cie1964, nikon_d700_cave")
    parser.add_argument("--heldout", help="JSON file with the held-out scores to record")
    parser.add_argument("--training-data", help="text for the registry (default: from the checkpoint's meta)")
    parser.add_argument("--steps", type=int, help="optimiser steps (default: from the checkpoint / history.jsonl)")
    parser.add_argument("--config", help="config the weight was trained with (kept from the entry by default)")
    parser.add_argument("--description", help="one line describing the weight")
    parser.add_argument("--default", action="store_true", help="make this the default model")
    parser.add_argument("--registry", help="registry folder (default: the package's src/hsinr/pretrained)")
    args = parser.parse_args(argv)
    try:
        heldout = None
        if args.heldout:
            try:
                heldout = json.loads(Path(args.heldout).read_text())
            except (OSError, ValueError) as exc:
                raise HsinrError(f"{args.heldout}: cannot read held-out scores as JSON ({exc})") from None
        entry, warnings = register_weights(
            args.run_dir,
            args.name,
            root=args.registry,
            heldout=heldout,
            training_data=args.training_data,
            steps=args.steps,
            config=args.config,
            description=args.description,
            make_default=args.default,
        )
    except HsinrError as exc:
        print(f"register_pretrained: error: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps(entry, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
