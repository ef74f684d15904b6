"""Datasets: find scenes on disk, split them, load (RGB, cube) pairs and serve patches to the trainer.

Typical use::

    items = discover("cave", "/data/CAVE")
    split = split_for(run_dir, [item.name for item in items], ratios=(0.6, 0.2, 0.2), seed=0)
    scenes = SceneCache(items, srf=response)           # renders RGB = cube @ srf.T when srf is given
    train = PatchDataset(scenes.pairs(split["train"]), patch_size=64, patches_per_epoch=1000)
    val = FullImageDataset(scenes.pairs(split["val"]))

Synthetic scenes live in :mod:`hsinr.data.synthetic`.
"""

from .datasets import (
    CUBE_SUFFIXES,
    DATASET_KINDS,
    SceneCache,
    SceneItem,
    ScenePair,
    arad_items,
    cave_items,
    discover,
    folder_items,
    harvard_items,
    icvl_items,
    load_pair,
    nus_items,
    official_split,
)
from .patches import DIHEDRAL_OPS, EpochPatchSampler, FullImageDataset, PatchDataset, dihedral
from .split import leave_one_out, load_split, make_split, save_split, split_for

__all__ = [
    "CUBE_SUFFIXES",
    "DATASET_KINDS",
    "DIHEDRAL_OPS",
    "EpochPatchSampler",
    "FullImageDataset",
    "PatchDataset",
    "SceneCache",
    "SceneItem",
    "ScenePair",
    "arad_items",
    "cave_items",
    "dihedral",
    "discover",
    "folder_items",
    "harvard_items",
    "icvl_items",
    "leave_one_out",
    "load_pair",
    "load_split",
    "make_split",
    "nus_items",
    "official_split",
    "save_split",
    "split_for",
]
