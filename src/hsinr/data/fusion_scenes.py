"""Ground-truth scenes of the fusion task: a dataset's cubes or remote-sensing cubes, whole or cut into two regions.

Fusion needs only the ground-truth cube of each scene (the LR-HSI and HR-MSI are simulated from it by
:mod:`hsinr.data.fusion`), so scenes are read without any RGB. The ``data`` section of a ``task: fusion`` config chooses
them:

* ``kind: cave | arad | icvl | harvard | nus | folder | synthetic`` — the scenes of :func:`hsinr.data.discover`; band
  centres are ``data.wavelengths`` (default 400–700 nm, 31 bands) and must count as many bands as the cubes.
* ``kind: remote`` — the remote-sensing benchmark cubes directly in ``data.root`` (:func:`remote_items`): one scene
  per file, named by the file stem (``samson``, ``jasper_ridge_198``, ``urban_sub_162``), read by the loaders of
  :mod:`hsinr.data.remote`, whose band centres (approximate, from the sensor) replace ``data.wavelengths``. Every
  scene of one run must have the same band centres (one model, one band count).
* ``scenes: [name, ...]`` keeps only those scenes.
* ``regions: {axis: columns, fraction: 0.5}`` replaces every scene ``NAME`` by two disjoint regions, ``NAME_left``
  (the first ``⌊fraction · W + ½⌋`` columns) and ``NAME_right`` (the rest); ``axis: rows`` gives ``NAME_top`` and
  ``NAME_bottom``. A single scene can then be trained on one side and tested on the other
  (``split: {train: [samson_left], val: [], test: [samson_right]}``). The whole scene is no longer a scene of the
  dataset, so it cannot sit on the other side of a split from one of its halves. Each region is simulated on its
  own (the blur reflects at the region's border), so no test pixel reaches the training inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from ..errors import ConfigError, DataError
from ..io import read_cube
from .datasets import SceneItem, discover
from .remote import REMOTE_LOADERS, load_remote_cube

#: The variable that holds the cube in each remote benchmark file (other files, e.g. endmembers, are not scenes).
REMOTE_CUBE_VARIABLES = {"jasper": "Y", "samson": "Y", "urban": "im"}
#: Names given to the two regions along each axis.
REGION_NAMES = {"columns": ("left", "right"), "rows": ("top", "bottom")}


def remote_items(root: str | Path) -> list[tuple[str, Path]]:
    """``(name, path)`` of the remote-sensing benchmark cubes directly in ``root``, sorted by name.

    A file counts when its name contains a loader's word (``jasper``, ``samson``, ``urban``; see
    :data:`hsinr.data.remote.REMOTE_LOADERS`) and it is a MATLAB file holding that loader's cube variable
    (:data:`REMOTE_CUBE_VARIABLES`); endmember files beside them are skipped.

    Raises:
        DataError: ``root`` is not a folder or holds no such cube.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: remote-sensing data folder does not exist")
    found = []
    for path in sorted(root.glob("*.mat")):
        loader = next((word for word in REMOTE_LOADERS if word in path.name.lower()), None)
        if loader is None:
            continue
        try:
            variables = {name for name, _, _ in scipy.io.whosmat(path)}
        except (OSError, ValueError, TypeError) as exc:
            raise DataError(f"{path}: cannot read as a MATLAB v5 file ({exc})") from None
        if REMOTE_CUBE_VARIABLES[loader] in variables:
            found.append((path.stem, path))
    if not found:
        raise DataError(
            f"{root}: no remote-sensing cube found; expected MATLAB files named after "
            f"{', '.join(REMOTE_LOADERS)} holding the cube ({', '.join(sorted(set(REMOTE_CUBE_VARIABLES.values())))})"
        )
    return found


def split_region(cube: np.ndarray, axis: str = "columns", fraction: float = 0.5) -> dict[str, np.ndarray]:
    """Two disjoint regions of an ``(H, W, C)`` cube: ``{"left": first ⌊fraction·W + ½⌋ columns, "right": rest}``
    for ``axis="columns"``, ``{"top", "bottom"}`` (rows) for ``axis="rows"``; views, no copy.

    Raises:
        ConfigError: unknown axis, or a fraction that leaves a region empty.
    """
    if axis not in REGION_NAMES:
        raise ConfigError(f"data.regions.axis must be 'columns' or 'rows', got {axis!r}")
    size = cube.shape[1] if axis == "columns" else cube.shape[0]
    cut = int(np.floor(size * float(fraction) + 0.5))  # rounded half up: 95 columns → 48 + 47
    if not 0 < cut < size:
        raise ConfigError(f"data.regions.fraction {fraction} leaves an empty region of a {size}-pixel {axis} axis")
    first, second = REGION_NAMES[axis]
    if axis == "columns":
        return {first: cube[:, :cut], second: cube[:, cut:]}
    return {first: cube[:cut], second: cube[cut:]}


class FusionScenes:
    """The scenes of a fusion run (see the module docstring for the config keys), loaded once on first use.

    Attributes:
        names: scene names usable in splits (region names when ``regions`` is set), sorted.
        wavelengths: float64 ``(C,)`` band centres in nm shared by all scenes.
    """

    def __init__(self, data_config: dict, kind: str, root: Path, wavelengths: np.ndarray) -> None:
        self._loaded: dict[str, np.ndarray] = {}
        if kind == "remote":
            sources = dict(remote_items(root))
        else:
            sources = {item.name: item for item in discover(kind, root)}
        wanted = data_config.get("scenes")
        if wanted:
            unknown = sorted(set(wanted) - set(sources))
            if unknown:
                raise ConfigError(f"data.scenes names scenes not found in {root}: {', '.join(unknown)}")
            sources = {name: sources[name] for name in wanted}
        self._sources = sources
        if kind == "remote":
            self.wavelengths = self._remote_wavelengths()
        else:
            self.wavelengths = np.asarray(wavelengths, dtype=np.float64)
        regions = data_config.get("regions")
        if regions is not None and not isinstance(regions, dict):
            raise ConfigError(f"data.regions must be a mapping {{axis: columns|rows, fraction: 0.5}}, got {regions!r}")
        self._regions = None
        if regions is not None:
            self._regions = (regions.get("axis", "columns"), float(regions.get("fraction", 0.5)))
        if self._regions is None:
            self.names = sorted(sources)
        else:
            if self._regions[0] not in REGION_NAMES:
                raise ConfigError(f"data.regions.axis must be 'columns' or 'rows', got {self._regions[0]!r}")
            self.names = sorted(f"{name}_{part}" for name in sources for part in REGION_NAMES[self._regions[0]])

    def cube(self, name: str) -> np.ndarray:
        """The ``(H, W, C)`` float32 ground truth of scene ``name`` (a region's view when ``regions`` is set)."""
        if name not in self.names:
            raise ConfigError(f"scene {name!r} is not in the dataset ({', '.join(self.names)})")
        if self._regions is None:
            return self._load(name)
        axis, fraction = self._regions
        base, _, part = name.rpartition("_")
        return split_region(self._load(base), axis, fraction)[part]

    def cubes(self, names) -> list[np.ndarray]:
        """:meth:`cube` of each name, in order."""
        return [self.cube(name) for name in names]

    def _load(self, name: str) -> np.ndarray:
        if name not in self._loaded:
            source = self._sources[name]
            if isinstance(source, SceneItem):
                data = _read_item(source)
                if data.shape[2] != self.wavelengths.size:
                    raise DataError(
                        f"{source.cube_path}: {data.shape[2]} bands, but data.wavelengths gives "
                        f"{self.wavelengths.size}; set data.wavelengths to the cube's band centres"
                    )
            else:
                data = load_remote_cube(source).data
            self._loaded[name] = np.ascontiguousarray(data, dtype=np.float32)
        return self._loaded[name]

    def _remote_wavelengths(self) -> np.ndarray:
        """Load every remote scene (small files) and return their common band centres."""
        centres = {}
        for name, path in self._sources.items():
            cube = load_remote_cube(path)
            self._loaded[name] = np.ascontiguousarray(cube.data, dtype=np.float32)
            centres[name] = np.asarray(cube.wavelengths, dtype=np.float64)
        first_name, first = next(iter(centres.items()))
        for name, other in centres.items():
            if other.shape != first.shape or not np.allclose(other, first):
                raise DataError(
                    f"remote scenes {first_name} ({first.size} bands) and {name} ({other.size} bands) have different "
                    "band centres; one fusion model needs one sensor: list one of them in data.scenes"
                )
        return first


def _read_item(item: SceneItem) -> np.ndarray:
    """The cube of a dataset scene: the first of ``item.cube_keys`` the file holds (any 3-D array when none)."""
    if not item.cube_keys or item.cube_path.is_dir():
        return read_cube(item.cube_path).data
    error = None
    for key in item.cube_keys:
        try:
            return read_cube(item.cube_path, key=key).data
        except DataError as exc:  # the key is absent; try the next one
            error = exc
    raise error
