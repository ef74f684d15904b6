"""Pack CAVE ``.mat`` cubes losslessly into small files for a device machine whose upload is size-limited, and back.

``pack SRC_DIR DST_DIR [--part K/N] [--exclude SCENE ...]``: every N-th scene starting at K of SRC_DIR (``Omsi``
uint16, ``bands``), less the excluded ones → ``DST_DIR/<scene>.npz`` holding the horizontal differences of the cube
split into low and high byte planes, lzma compressed (≈ 60 % of the raw size; CAVE's sensor noise leaves little more
to gain: band and 2-D predictors save another 5 % at most).
``unpack SRC_DIR DST_DIR [--placeholder SCENE ...]``: the ``.npz`` files → MATLAB v5 ``.mat`` files identical in
content to the originals, plus a 64×64 all-zero cube for each placeholder scene. 26 scenes do not fit in one upload
beside the repository; a run that only trains needs the training and validation scenes, and the placeholders keep
the scene list of a seeded split (``data.split: {ratios: ...}``) intact. Test scenes are then evaluated elsewhere.
"""

from __future__ import annotations

import argparse
import lzma
from pathlib import Path

import numpy as np
import scipy.io as sio


def pack(src: Path, dst: Path, part: str, exclude: list[str]) -> None:
    k, n = (int(v) for v in part.split("/"))
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.mat"))[k::n]:
        if path.stem in exclude:
            continue
        mat = sio.loadmat(path)
        cube = mat["Omsi"].astype(np.int32)
        delta = np.ascontiguousarray(np.diff(cube, axis=1, prepend=0).astype(np.int16))
        planes = delta.view(np.uint8).reshape(-1, 2)
        payload = lzma.compress(planes[:, 0].tobytes() + planes[:, 1].tobytes(), preset=6)
        np.savez(
            dst / f"{path.stem}.npz", payload=np.frombuffer(payload, np.uint8), shape=cube.shape, bands=mat["bands"]
        )


def unpack(src: Path, dst: Path, placeholders: list[str]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    bands = None
    for path in sorted(src.glob("*.npz")):
        stored = np.load(path)
        shape = tuple(stored["shape"])
        raw = np.frombuffer(lzma.decompress(stored["payload"].tobytes()), np.uint8)
        half = raw.size // 2
        delta = np.stack([raw[:half], raw[half:]], axis=1).reshape(-1).view(np.int16).reshape(shape)
        cube = np.cumsum(delta.astype(np.int32), axis=1).astype(np.uint16)
        sio.savemat(dst / f"{path.stem}.mat", {"Omsi": cube, "bands": stored["bands"]})
        bands = stored["bands"]
    for name in placeholders:
        sio.savemat(dst / f"{name}.mat", {"Omsi": np.zeros((64, 64, 31), np.uint16), "bands": bands})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--part", default="0/1")
    parser.add_argument("--exclude", nargs="*", default=[], help="pack: scenes (file stems) to leave out")
    parser.add_argument("--placeholder", nargs="*", default=[], help="unpack: scenes to write as all-zero cubes")
    args = parser.parse_args()
    if args.action == "pack":
        pack(args.src, args.dst, args.part, args.exclude)
    else:
        unpack(args.src, args.dst, args.placeholder)
