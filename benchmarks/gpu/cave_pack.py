"""Pack CAVE ``.mat`` cubes losslessly into small files for a device machine whose upload is size-limited, and back.

``pack SRC_DIR DST_DIR [--part K/N]``: every N-th scene starting at K of SRC_DIR (``Omsi`` uint16, ``bands``) →
``DST_DIR/<scene>.npz`` holding the horizontal differences of the cube split into low and high byte planes, zlib
compressed (≈ 60 % of the raw size; CAVE's sensor noise leaves little more to gain).
``unpack SRC_DIR DST_DIR``: the ``.npz`` files → MATLAB v5 ``.mat`` files identical in content to the originals.
"""

from __future__ import annotations

import argparse
import lzma
from pathlib import Path

import numpy as np
import scipy.io as sio


def pack(src: Path, dst: Path, part: str) -> None:
    k, n = (int(v) for v in part.split("/"))
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.mat"))[k::n]:
        mat = sio.loadmat(path)
        cube = mat["Omsi"].astype(np.int32)
        delta = np.ascontiguousarray(np.diff(cube, axis=1, prepend=0).astype(np.int16))
        planes = delta.view(np.uint8).reshape(-1, 2)
        payload = lzma.compress(planes[:, 0].tobytes() + planes[:, 1].tobytes(), preset=6)
        np.savez(
            dst / f"{path.stem}.npz", payload=np.frombuffer(payload, np.uint8), shape=cube.shape, bands=mat["bands"]
        )


def unpack(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.npz")):
        stored = np.load(path)
        shape = tuple(stored["shape"])
        raw = np.frombuffer(lzma.decompress(stored["payload"].tobytes()), np.uint8)
        half = raw.size // 2
        delta = np.stack([raw[:half], raw[half:]], axis=1).reshape(-1).view(np.int16).reshape(shape)
        cube = np.cumsum(delta.astype(np.int32), axis=1).astype(np.uint16)
        sio.savemat(dst / f"{path.stem}.mat", {"Omsi": cube, "bands": stored["bands"]})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--part", default="0/1")
    args = parser.parse_args()
    pack(args.src, args.dst, args.part) if args.action == "pack" else unpack(args.src, args.dst)
