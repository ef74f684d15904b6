"""Find the scenes of a dataset on disk and load them as (RGB, cube) pairs.

Discovery only lists files (one :class:`SceneItem` per scene, sorted by name); nothing is read until
:func:`load_pair`. One function per layout, all dispatched by :func:`discover`:

=========  ==========================================================================================================
kind       layout under ``root``
=========  ==========================================================================================================
cave       CAVE scene folders ``<scene>_ms/`` (or nested ``<scene>_ms/<scene>_ms/``) holding ``<scene>_ms_01..31.png``,
           and/or ``*.mat`` cubes (variable ``Omsi`` or ``cube``). 400-700 nm, 31 bands.
arad       NTIRE 2022 ARAD_1K: ``Train_Spec/*.mat`` + ``Train_RGB/*.jpg`` and ``Valid_Spec/`` + ``Valid_RGB/``
           (RGB optional). Items are tagged ``subset="train"`` / ``"val"``; see :func:`official_split`.
icvl       NTIRE 2018 (ICVL): ``*.mat`` with ``rad`` anywhere below ``root``; RGB ``<stem>_clean.png`` (or
           ``<stem>_camera.jpg`` with ``rgb_track="camera"``) anywhere below ``root`` when present.
harvard    Harvard (Chakrabarti & Zickler): ``*.mat`` with ``ref`` anywhere below ``root``. 420-720 nm, 31 bands.
nus        NUS (Nguyen et al. 2014): ``*.mat`` with ``ref``, ``rad`` or ``cube`` (first found) anywhere below ``root``.
folder     any cube file :func:`hsinr.io.read_cube` reads, directly in ``root``; paired RGB ``<stem>_rgb.png``,
           ``<stem>_rgb.jpg``, ``<stem>.png`` or ``<stem>.jpg`` beside it when present.
=========  ==========================================================================================================

CAVE's own ``<scene>_RGB.bmp`` is a gamma-encoded display image, not a linear rendering of the cube, so CAVE scenes
carry no paired RGB: their RGB is rendered from the cube with a camera response, as in the papers.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import scipy.io

from ..cube import Cube, default_wavelengths
from ..errors import ConfigError, DataError
from ..io import read_cube, read_rgb
from ..spectral import render_rgb, resolve_response

VISIBLE_400_700 = tuple(float(w) for w in default_wavelengths(31, 400.0, 700.0))
HARVARD_420_720 = tuple(float(w) for w in default_wavelengths(31, 420.0, 720.0))

#: Suffixes of the cube files the ``folder`` layout picks up (the single-file formats of :mod:`hsinr.io`).
CUBE_SUFFIXES = (".mat", ".h5", ".hdf5", ".hdr", ".tif", ".tiff", ".npy", ".npz")

_CAVE_BAND_PNG = re.compile(r".+_ms_\d{2}\.png", re.IGNORECASE)


@dataclass(frozen=True)
class SceneItem:
    """One scene on disk.

    Attributes:
        name: scene name, unique within its dataset (used in splits and output file names).
        cube_path: the cube file, or the folder of band images for CAVE.
        rgb_path: the RGB image recorded with the cube, or ``None`` (then the RGB is rendered).
        subset: the dataset's official subset (``"train"`` / ``"val"`` for ARAD), or ``None``.
        cube_keys: variable names to look for in a ``.mat`` file, in order of preference; empty = let
            :func:`hsinr.io.read_cube` choose.
        wavelengths: band centres in nm used when the file does not store them, or ``None``.
    """

    name: str
    cube_path: Path
    rgb_path: Path | None = None
    subset: str | None = None
    cube_keys: tuple[str, ...] = ()
    wavelengths: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cube_path", Path(self.cube_path))
        if self.rgb_path is not None:
            object.__setattr__(self, "rgb_path", Path(self.rgb_path))


class ScenePair(NamedTuple):
    """A loaded scene: RGB ``(H, W, 3)`` and cube ``(H, W, C)`` float32 (linear, 1.0 = full scale of the source),
    band centres in nm ``(C,)`` (``None`` when neither the file nor the dataset says)."""

    name: str
    rgb: np.ndarray
    cube: np.ndarray
    wavelengths: np.ndarray | None


# ---------------------------------------------------------------------------------------------------------- discovery


def cave_items(root: str | Path) -> list[SceneItem]:
    """CAVE scenes: folders of ``<scene>_ms_NN.png`` band images (at ``root`` or up to two levels below) and
    ``*.mat`` cubes directly in ``root``. The name of a folder scene is its folder name without ``_ms``."""
    root = _existing_folder(root)
    items = []
    for folder in _folders_to_depth(root, 2):
        if any(_CAVE_BAND_PNG.fullmatch(p.name) for p in folder.iterdir() if p.is_file()):
            name = folder.name[: -len("_ms")] if folder.name.lower().endswith("_ms") else folder.name
            items.append(SceneItem(name, folder, wavelengths=VISIBLE_400_700))
    for path in sorted(root.glob("*.mat")):
        items.append(SceneItem(path.stem, path, cube_keys=("Omsi", "cube"), wavelengths=VISIBLE_400_700))
    return _finish(items, root, "CAVE scene folders <scene>_ms/ with <scene>_ms_01..31.png, or *.mat cubes")


def arad_items(root: str | Path) -> list[SceneItem]:
    """NTIRE 2022 ARAD_1K scenes from ``Train_Spec``/``Valid_Spec`` with their RGB from ``Train_RGB``/``Valid_RGB``
    (``<stem>.jpg`` or ``<stem>.png``) when present; tagged ``subset="train"`` or ``"val"``."""
    root = _existing_folder(root)
    items = []
    for subset, spec_dir, rgb_dir in (("train", "Train_Spec", "Train_RGB"), ("val", "Valid_Spec", "Valid_RGB")):
        for path in sorted((root / spec_dir).glob("*.mat")):
            rgb = _first_file(root / rgb_dir / f"{path.stem}{suffix}" for suffix in (".jpg", ".png"))
            items.append(
                SceneItem(path.stem, path, rgb, subset=subset, cube_keys=("cube",), wavelengths=VISIBLE_400_700)
            )
    return _finish(items, root, "Train_Spec/*.mat and/or Valid_Spec/*.mat (NTIRE 2022 ARAD_1K layout)")


def icvl_items(root: str | Path, rgb_track: str | None = "clean") -> list[SceneItem]:
    """NTIRE 2018 (ICVL) scenes: every ``*.mat`` below ``root`` (variable ``rad``).

    Args:
        rgb_track: which RGB images to pair, searched anywhere below ``root``: ``"clean"`` (``<stem>_clean.png``),
            ``"camera"`` (``<stem>_camera.jpg``, the Real World track) or ``None`` (always render).
    """
    suffixes = {"clean": "_clean.png", "camera": "_camera.jpg", None: None}
    if rgb_track not in suffixes:
        raise ConfigError(f"icvl rgb_track must be 'clean', 'camera' or None, got {rgb_track!r}")
    root = _existing_folder(root)
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            files.setdefault(path.name, path)
    items = []
    for path in sorted(root.rglob("*.mat")):
        rgb = files.get(f"{path.stem}{suffixes[rgb_track]}") if rgb_track else None
        items.append(SceneItem(path.stem, path, rgb, cube_keys=("rad",), wavelengths=VISIBLE_400_700))
    return _finish(items, root, "*.mat files with variable 'rad' (NTIRE 2018 / ICVL)")


def harvard_items(root: str | Path) -> list[SceneItem]:
    """Harvard scenes: every ``*.mat`` below ``root`` (variable ``ref``, 31 bands at 420-720 nm)."""
    root = _existing_folder(root)
    items = [
        SceneItem(path.stem, path, cube_keys=("ref",), wavelengths=HARVARD_420_720)
        for path in sorted(root.rglob("*.mat"))
    ]
    return _finish(items, root, "*.mat files with variable 'ref' (Harvard)")


def nus_items(root: str | Path) -> list[SceneItem]:
    """NUS scenes: every ``*.mat`` below ``root`` (variable ``ref``, else ``rad``, else ``cube``; 400-700 nm)."""
    root = _existing_folder(root)
    items = [
        SceneItem(path.stem, path, cube_keys=("ref", "rad", "cube"), wavelengths=VISIBLE_400_700)
        for path in sorted(root.rglob("*.mat"))
    ]
    return _finish(items, root, "*.mat files with variable 'ref', 'rad' or 'cube' (NUS)")


def folder_items(root: str | Path, wavelengths: Sequence[float] | None = None) -> list[SceneItem]:
    """Every cube file directly in ``root`` (suffixes :data:`CUBE_SUFFIXES`), paired with ``<stem>_rgb.png``,
    ``<stem>_rgb.jpg``, ``<stem>.png`` or ``<stem>.jpg`` (first found) beside it.

    Args:
        wavelengths: band centres in nm for files that do not store them (``None``: unknown).
    """
    root = _existing_folder(root)
    known = None if wavelengths is None else tuple(float(w) for w in wavelengths)
    items = []
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix.lower() in CUBE_SUFFIXES:
            candidates = (f"{path.stem}_rgb.png", f"{path.stem}_rgb.jpg", f"{path.stem}.png", f"{path.stem}.jpg")
            rgb = _first_file(root / candidate for candidate in candidates)
            items.append(SceneItem(path.stem, path, rgb, wavelengths=known))
    return _finish(items, root, f"cube files ({', '.join(CUBE_SUFFIXES)})")


_DISCOVERERS: dict[str, Callable[..., list[SceneItem]]] = {
    "cave": cave_items,
    "arad": arad_items,
    "icvl": icvl_items,
    "harvard": harvard_items,
    "nus": nus_items,
    "folder": folder_items,
}

#: The dataset layouts :func:`discover` knows.
DATASET_KINDS = tuple(_DISCOVERERS)


def discover(kind: str, root: str | Path, **options) -> list[SceneItem]:
    """The scenes of dataset ``kind`` (one of :data:`DATASET_KINDS`) under ``root``, sorted by name.

    ``options`` go to the layout's function (``rgb_track`` for icvl, ``wavelengths`` for folder).

    Raises:
        ConfigError: unknown kind or option.
        DataError: ``root`` is missing or holds no scene of that layout.
    """
    if kind not in _DISCOVERERS:
        raise ConfigError(f"unknown dataset kind {kind!r}; known: {', '.join(DATASET_KINDS)}")
    discoverer = _DISCOVERERS[kind]
    try:
        inspect.signature(discoverer).bind(root, **options)
    except TypeError as exc:
        raise ConfigError(f"dataset kind {kind!r}: {exc}") from None
    return discoverer(root, **options)


def official_split(items: Iterable[SceneItem]) -> dict[str, list[str]]:
    """The split a dataset ships with (ARAD_1K): ``train`` = items tagged ``"train"``, ``val`` and ``test`` = items
    tagged ``"val"``.

    The ARAD_1K test spectra are not public, so, as in the NTIRE 2022 literature, the official validation scenes
    serve both for model selection and for the reported numbers.

    Raises:
        ConfigError: the items carry no ``"train"`` or no ``"val"`` tag.
    """
    items = list(items)
    train = sorted(item.name for item in items if item.subset == "train")
    val = sorted(item.name for item in items if item.subset == "val")
    if not train or not val:
        raise ConfigError(
            f"the official split needs scenes tagged 'train' and 'val' (found {len(train)} and {len(val)}); "
            "only the arad layout has them, use make_split for the others"
        )
    return {"train": train, "val": val, "test": list(val)}


# -------------------------------------------------------------------------------------------------------------- load


def load_pair(item: SceneItem, srf=None, render_kwargs: dict | None = None) -> ScenePair:
    """Read a scene's cube and its RGB.

    The RGB is the paired file (``item.rgb_path``, read with :func:`hsinr.io.read_rgb`) when there is one and no
    ``srf`` is given; otherwise it is rendered from the cube, ``rgb = render_rgb(cube, srf, **render_kwargs)``
    (eq. 4 of the INR-HSISR paper: ``rgb = cube @ srf.T``).

    Args:
        item: the scene.
        srf: camera response forcing a rendered RGB: a ``(3, C)`` array or a
            :class:`hsinr.spectral.CameraResponse` at the cube's band centres (not resampled: a response sampled
            elsewhere is a DataError), or a spec string (builtin name, file path, ``"path:key"``) resolved with
            :func:`hsinr.spectral.resolve_response` at the cube's band centres.
        render_kwargs: extra keyword arguments of :func:`hsinr.spectral.render_rgb`.

    Raises:
        DataError: unreadable cube or RGB, NaN/Inf values, RGB and cube of different sizes, a response that does
            not fit the cube's bands, band centres unknown when a response spec must be resolved.
        ConfigError: no paired RGB and no ``srf``.
    """
    cube = _read_scene_cube(item)
    wavelengths = _band_centres(item, cube)
    if srf is None and item.rgb_path is not None:
        rgb = np.asarray(read_rgb(item.rgb_path), dtype=np.float32)
        if rgb.shape[:2] != cube.data.shape[:2]:
            raise DataError(
                f"RGB {item.rgb_path} is {rgb.shape[0]}x{rgb.shape[1]} but cube {item.cube_path} is "
                f"{cube.data.shape[0]}x{cube.data.shape[1]} (rows x columns)"
            )
    elif srf is None:
        raise ConfigError(
            f"{item.cube_path}: scene {item.name!r} has no paired RGB image; give a camera response (srf) to render one"
        )
    else:
        response = _resolve_response(srf, wavelengths, item.cube_path)
        try:
            rgb = render_rgb(Cube(cube.data, wavelengths), response, **(render_kwargs or {}))
        except DataError as exc:
            raise DataError(f"{item.cube_path}: {exc}") from None
    return ScenePair(item.name, rgb, cube.data, wavelengths)


class SceneCache:
    """Loads each scene once, on first use, and keeps it in memory.

    Memory: a scene of ``H x W`` pixels and ``C`` bands holds ``4 * H * W * (C + 3)`` bytes: 34 MiB for a CAVE
    scene (512x512x31), 32 MiB for ARAD_1K (482x512x31), so all 32 CAVE scenes take about 1.1 GiB and the 950
    ARAD_1K train+valid scenes about 30 GiB. :attr:`nbytes` reports what is held. Meant for the small datasets of this
    field; load only the subsets you use (:meth:`pairs` with their names).

    Args:
        items: the dataset's scenes (names unique).
        srf, render_kwargs: as for :func:`load_pair`, applied to every scene.
    """

    def __init__(self, items: Iterable[SceneItem], srf=None, render_kwargs: dict | None = None) -> None:
        self._items = {item.name: item for item in items}
        self._srf = srf
        self._render_kwargs = dict(render_kwargs or {})
        self._loaded: dict[str, ScenePair] = {}

    @property
    def names(self) -> list[str]:
        """All scene names, sorted."""
        return sorted(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, name: str) -> ScenePair:
        """The scene ``name``, loaded on first request.

        Raises:
            ConfigError: no scene of that name.
        """
        if name not in self._items:
            raise ConfigError(f"scene {name!r} is not in the dataset ({len(self._items)} scenes)")
        if name not in self._loaded:
            self._loaded[name] = load_pair(self._items[name], self._srf, self._render_kwargs)
        return self._loaded[name]

    def pairs(self, names: Iterable[str] | None = None) -> list[ScenePair]:
        """The scenes ``names`` (all when ``None``) in the order given."""
        return [self.get(name) for name in (self.names if names is None else names)]

    @property
    def nbytes(self) -> int:
        """Bytes held by the loaded RGB images and cubes."""
        return sum(pair.rgb.nbytes + pair.cube.nbytes for pair in self._loaded.values())


#: The cubes read inside :func:`shared_cube_reads` (``None`` outside it), keyed by file, keys asked for, size, mtime.
_shared_cubes: dict[tuple, Cube] | None = None


@contextlib.contextmanager
def shared_cube_reads() -> Iterator[None]:
    """Within this block each cube file is read from disk once and the same (read-only) array is handed out again.

    A benchmark trains several methods on the same scenes, each method building its own :class:`SceneCache`; the
    least-squares maps of ``hsinr demo`` re-read the 16 CAVE training scenes once per method (~0.3 s per 256² scene).
    Inside this block the files are decoded once. The arrays are marked read-only, so a caller that would change a
    shared cube in place fails loudly instead of corrupting another method's data. Memory: every cube read in the
    block stays held until the block ends (see :class:`SceneCache` for the sizes). Blocks nest; the outermost one
    owns the store.
    """
    global _shared_cubes
    outermost = _shared_cubes is None
    if outermost:
        _shared_cubes = {}
    try:
        yield
    finally:
        if outermost:
            _shared_cubes = None


def _read_scene_cube(item: SceneItem) -> Cube:
    """``read_cube`` of the item's file (checked finite), through the store of :func:`shared_cube_reads` when on."""
    if _shared_cubes is None:
        return read_cube(item.cube_path, key=_choose_key(item)).check_finite()
    stat = item.cube_path.stat()
    store_key = (str(item.cube_path.resolve()), item.cube_keys, stat.st_size, stat.st_mtime_ns)
    if store_key not in _shared_cubes:
        cube = read_cube(item.cube_path, key=_choose_key(item)).check_finite()
        cube.data.flags.writeable = False
        _shared_cubes[store_key] = cube
    return _shared_cubes[store_key]


# ----------------------------------------------------------------------------------------------------------- helpers


def _existing_folder(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder does not exist" if not root.exists() else f"{root}: not a folder")
    return root


def _folders_to_depth(root: Path, depth: int) -> list[Path]:
    """``root`` and its sub-folders down to ``depth`` levels, sorted."""
    found, level = [root], [root]
    for _ in range(depth):
        level = [child for folder in level for child in sorted(folder.iterdir()) if child.is_dir()]
        found.extend(level)
    return found


def _first_file(candidates: Iterable[Path]) -> Path | None:
    return next((path for path in candidates if path.is_file()), None)


def _finish(items: list[SceneItem], root: Path, expected: str) -> list[SceneItem]:
    """Sort by name; raise :class:`DataError` when there is nothing or when two files give the same name."""
    if not items:
        raise DataError(f"{root}: no scenes found; expected {expected}")
    repeated = {name for name, count in Counter(item.name for item in items).items() if count > 1}
    if repeated:
        clashes = [str(item.cube_path) for item in items if item.name in repeated]
        raise DataError(f"{root}: several files give the same scene name: {', '.join(clashes)}")
    return sorted(items, key=lambda item: item.name)


def _choose_key(item: SceneItem) -> str | None:
    """The first of ``item.cube_keys`` stored in its ``.mat`` file, or ``None`` when no keys are asked for."""
    if not item.cube_keys or item.cube_path.suffix.lower() != ".mat" or not item.cube_path.is_file():
        return None
    stored = _mat_variables(item.cube_path)
    key = next((key for key in item.cube_keys if key in stored), None)
    if key is None:
        raise DataError(
            f"{item.cube_path}: expected a variable named {' or '.join(map(repr, item.cube_keys))}, "
            f"found {', '.join(stored) or 'none'}"
        )
    return key


def _mat_variables(path: Path) -> list[str]:
    """Names of the variables in a MATLAB file (v7.3 HDF5 or v5), without reading the data."""
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                return [name for name in handle.keys() if not name.startswith("#")]
        return [name for name, _, _ in scipy.io.whosmat(path)]
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: cannot read as a MATLAB file ({exc})") from None


def _band_centres(item: SceneItem, cube: Cube) -> np.ndarray | None:
    """The file's band centres, else the dataset's (which must count as many bands as the cube), else ``None``."""
    if cube.wavelengths is not None:
        return cube.wavelengths
    if item.wavelengths is None:
        return None
    if len(item.wavelengths) != cube.bands:
        raise DataError(
            f"{item.cube_path}: {cube.bands} bands, but this dataset has {len(item.wavelengths)} bands "
            f"({item.wavelengths[0]:g}-{item.wavelengths[-1]:g} nm)"
        )
    return np.asarray(item.wavelengths, dtype=np.float64)


def _resolve_response(srf, wavelengths: np.ndarray | None, where: Path):
    """``srf`` itself, or the response named by a spec string / file path, resolved at ``wavelengths``."""
    if not isinstance(srf, (str, Path)):
        return srf
    if wavelengths is None:
        raise DataError(
            f"{where}: band centres unknown (not in the file, not given for the dataset), "
            f"cannot resolve camera response {str(srf)!r}; pass a (3, C) array instead"
        )
    return resolve_response(str(srf), wavelengths)
