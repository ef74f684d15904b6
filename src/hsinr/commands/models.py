"""``hsinr models``: list the pretrained weights of the registry (shipped and planned)."""

from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the pretrained models shipped with hsinr")
    p.add_argument("--json", action="store_true", help="print the registry entries as JSON")
    p.set_defaults(func=run)


def heldout_text(heldout: dict | None) -> str:
    """``"38.79 dB / 9.6°"`` from held-out scores with ``psnr`` (dB) and ``sam`` (degrees); ``"to be filled"`` else."""
    heldout = heldout or {}
    if heldout.get("psnr") is None:
        return "to be filled"
    text = f"{float(heldout['psnr']):.2f} dB"
    if heldout.get("sam") is not None:
        text += f" / {float(heldout['sam']):.1f}°"
    return text


def rows(registry: dict) -> list[dict]:
    """One display row per registry entry, default first."""
    default = registry.get("default")
    out = []
    for name in sorted(registry["models"], key=lambda n: (n != default, n)):
        entry = registry["models"][name]
        shipped = bool(entry.get("sha256"))
        architecture = entry.get("architecture") or {}
        out.append(
            {
                "name": name + (" *" if name == default else ""),
                "response": str(entry.get("response") or "-"),
                "architecture": str(
                    (architecture.get("name") if isinstance(architecture, dict) else architecture) or "-"
                ),
                "parameters": f"{entry['parameters']:,}" if isinstance(entry.get("parameters"), int) else "-",
                "training data": str(entry.get("training_data") or "-"),
                "steps": f"{entry['steps']:,}" if isinstance(entry.get("steps"), int) else "-",
                "held-out PSNR / SAM": heldout_text(entry.get("heldout")) if shipped else "-",
                "sha256": entry["sha256"][:12] if shipped else "not shipped yet",
            }
        )
    return out


def run(args) -> int:
    from ..pretrained import read_registry, registry_dir

    registry = read_registry()
    if args.json:
        print(json.dumps(registry, indent=2))
        return 0
    table = rows(registry)
    if not table:
        print(f"no pretrained models are registered ({registry_dir() / 'registry.json'})")
        return 0
    columns = list(table[0])
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for row in table:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
    print(f"* default model (hsinr reconstruct without --model); registry: {registry_dir() / 'registry.json'}")
    planned = [name for name, entry in sorted(registry["models"].items()) if not entry.get("sha256")]
    if planned:
        print(
            f"not shipped yet: {', '.join(planned)}; train one yourself with "
            "hsinr train configs/pretrained/<name>.yaml -o DIR and pass --model DIR/best.pt"
        )
    return 0
