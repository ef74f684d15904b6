"""Measured spectra: reflectance libraries and illuminant spectra, resampled to any band centres.

Four sources of reflectance spectra:

- :func:`earthlib_library` -- the 7,261 field and laboratory spectra (400-2450 nm, 10 nm, water-absorption bands
  1360-1450 nm and 1800-1950 nm left out) that ship inside the PyPI package ``earthlib``: soils, vegetation canopies
  (PROSAIL simulations), non-photosynthetic vegetation (bark, litter, wood), burned surfaces and built materials
  (roofs, roads, paint, concrete ...). Each spectrum carries the earthlib class path ``"level1/level2/level3"``, for
  example ``"pervious/vegetation/canopy"`` or ``"impervious/built/road"``.
- :func:`reflectance_sets` -- the natural-object reflectances shipped with colour-science: the 190 training patches
  of the rawtoaces/ACES IDT procedure, the ColorChecker 24 (three measurements), the 30 skin tones of the PMC set, the
  CIE test colour samples (1995 and 2024) and the NIST CQS samples.
- :func:`load_library` -- a user's ENVI spectral library (``.sli`` + ``.hdr``) or CSV table.
- :func:`training_library` -- endmembers of the training cube itself, its most extreme pixels by the successive
  projection algorithm (:func:`successive_projection`): spectra of the sensor and the scene's own materials.

Spectra are linearly interpolated to the requested band centres; outside the measured range the first / last value
is held (reflectances are smooth at their ends, and a library cut at 2450 nm is better continued flat than with
zeros). :func:`illuminant_spectrum` gives CIE and other light-source spectra from colour-science.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .resample import resample_spectra

__all__ = [
    "SpectralLibrary",
    "earthlib_library",
    "illuminant_spectrum",
    "illuminant_names",
    "load_library",
    "successive_projection",
    "training_library",
    "reflectance_sets",
    "resample",
]


def resample(spectra: np.ndarray, src_nm: np.ndarray, dst_nm: np.ndarray) -> np.ndarray:
    """Linearly interpolate spectra sampled at ``src_nm`` to the band centres ``dst_nm``.

    Args:
        spectra: ``(..., B)`` values at the ``B`` centres ``src_nm`` (any order; they are sorted here).
        src_nm: ``(B,)`` band centres in nm, distinct.
        dst_nm: ``(C,)`` band centres in nm.

    Returns:
        ``(..., C)`` float64 array. Outside ``[min(src), max(src)]`` the nearest end value is held: the library pads
        its spectra flat, then :func:`hsinr.spectral.resample.resample_spectra` (which never extrapolates) resamples.
    """
    values = np.asarray(spectra, dtype=np.float64)
    src = np.asarray(src_nm, dtype=np.float64).reshape(-1)
    dst = np.asarray(dst_nm, dtype=np.float64).reshape(-1)
    if values.shape[-1] != src.size:
        raise DataError(f"spectra have {values.shape[-1]} samples but {src.size} wavelengths were given")
    order = np.argsort(src, kind="stable")
    src = src[order]
    if np.any(np.diff(src) <= 0):
        raise DataError("wavelengths of a spectral library must be distinct")
    held = np.clip(dst, src[0], src[-1])  # reflectance is held flat beyond the measured ends
    return resample_spectra(values[..., order], src, held, what="spectral library")


@dataclass
class SpectralLibrary:
    """A set of reflectance spectra sampled at common band centres.

    Attributes:
        spectra: ``(K, B)`` float64 reflectance factors, nominally in [0, 1].
        wavelengths: ``(B,)`` band centres in nm, increasing.
        names: ``(K,)`` spectrum identifiers (str).
        classes: ``(K,)`` class paths (str) such as ``"pervious/vegetation/canopy"``; parts separated by ``/``.
    """

    spectra: np.ndarray
    wavelengths: np.ndarray
    names: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        self.spectra = np.atleast_2d(np.asarray(self.spectra, dtype=np.float64))
        self.wavelengths = np.asarray(self.wavelengths, dtype=np.float64).reshape(-1)
        self.names = np.asarray(self.names, dtype=str).reshape(-1)
        self.classes = np.asarray(self.classes, dtype=str).reshape(-1)
        count, bands = self.spectra.shape
        if bands != self.wavelengths.size:
            raise DataError(f"library spectra have {bands} bands but {self.wavelengths.size} wavelengths")
        if self.names.size != count or self.classes.size != count:
            raise DataError(f"library has {count} spectra but {self.names.size} names and {self.classes.size} classes")

    def __len__(self) -> int:
        return int(self.spectra.shape[0])

    def resample(self, wavelengths: np.ndarray) -> SpectralLibrary:
        """The same spectra linearly interpolated to ``wavelengths`` (nm); see :func:`resample`."""
        wavelengths = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
        return SpectralLibrary(
            resample(self.spectra, self.wavelengths, wavelengths), wavelengths, self.names, self.classes
        )

    def class_parts(self) -> list[str]:
        """Every class name that :meth:`select` accepts: each part of each class path, sorted."""
        return sorted({part for path in self.classes for part in path.split("/") if part})

    def select(self, classes: str | list[str] | tuple[str, ...]) -> SpectralLibrary:
        """The spectra whose class path contains any of ``classes`` as one of its ``/``-separated parts.

        ``"vegetation"`` keeps ``"pervious/vegetation/canopy"``; ``"soil"`` keeps ``"pervious/bare/soil"``; a path
        such as ``"pervious/bare"`` keeps the classes that start with it. Raises :class:`ConfigError` naming the
        valid choices when a requested class matches nothing.
        """
        wanted = [classes] if isinstance(classes, str) else list(classes)
        keep = np.zeros(len(self), dtype=bool)
        for name in wanted:
            name = name.strip().strip("/").lower()
            if "/" in name:
                hits = np.array(
                    [path.lower() == name or path.lower().startswith(name + "/") for path in self.classes], dtype=bool
                )
            else:
                hits = np.array([name in path.lower().split("/") for path in self.classes], dtype=bool)
            if not hits.any():
                raise ConfigError(
                    f"no spectra of class {name!r} in this library; classes are: {', '.join(self.class_parts())}"
                )
            keep |= hits
        return SpectralLibrary(self.spectra[keep], self.wavelengths, self.names[keep], self.classes[keep])


# ---------------------------------------------------------------------------------------------------------------------
# ENVI and CSV spectral libraries
# ---------------------------------------------------------------------------------------------------------------------

_UNIT_FACTORS_TO_NM = {
    "nanometers": 1.0,
    "nanometer": 1.0,
    "nm": 1.0,
    "micrometers": 1000.0,
    "micrometer": 1000.0,
    "microns": 1000.0,
    "micron": 1000.0,
    "um": 1000.0,
    "µm": 1000.0,
}


def _envi_header_and_data(path: Path) -> tuple[Path, Path]:
    """Header and data file of an ENVI library given either of them (``lib.sli`` + ``lib.hdr`` or ``lib.sli.hdr``)."""
    if path.suffix.lower() == ".hdr":
        header = path
        candidates = [path.with_suffix(""), path.with_suffix(".sli")]
    else:
        header_candidates = [path.with_suffix(".hdr"), Path(str(path) + ".hdr")]
        found = [h for h in header_candidates if h.is_file()]
        if not found:
            raise DataError(f"{path}: no ENVI header found (looked for {', '.join(map(str, header_candidates))})")
        header = found[0]
        candidates = [path]
    for data in candidates:
        if data.is_file() and data.suffix.lower() != ".hdr":
            return header, data
    raise DataError(f"{header}: no spectral library data file beside this header")


def _read_envi_library(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(spectra (K,B), wavelengths nm (B,), names (K,))`` of an ENVI spectral library, read with ``spectral``."""
    import spectral.io.envi as envi

    header, data = _envi_header_and_data(path)
    try:
        library = envi.open(str(header), str(data))
    except Exception as error:  # spectral raises several unrelated types for malformed files
        raise DataError(f"{header}: cannot read ENVI spectral library ({error})") from error
    if not hasattr(library, "spectra"):
        raise DataError(f"{header}: not an ENVI spectral library (file type is not 'ENVI Spectral Library')")
    spectra = np.asarray(library.spectra, dtype=np.float64)
    centers = getattr(library.bands, "centers", None)
    if not centers:
        raise DataError(f"{header}: the header has no 'wavelength' list")
    wavelengths = np.asarray(centers, dtype=np.float64)
    unit = (getattr(library.bands, "band_unit", None) or "").strip().lower()
    unit = "" if unit == "<unspecified>" else unit  # what spectral reports when the header has no units
    if unit in _UNIT_FACTORS_TO_NM:
        wavelengths = wavelengths * _UNIT_FACTORS_TO_NM[unit]
    elif unit:
        raise DataError(f"{header}: unknown wavelength units {unit!r} (expected nanometers or micrometers)")
    else:
        assumed = "micrometers" if wavelengths.max() < 30.0 else "nanometers"
        warnings.warn(f"{header}: no 'wavelength units' in the header; assuming {assumed}", stacklevel=3)
        wavelengths = wavelengths * _UNIT_FACTORS_TO_NM[assumed]
    names = getattr(library, "names", None) or [f"spectrum_{i}" for i in range(spectra.shape[0])]
    if len(names) != spectra.shape[0]:
        raise DataError(f"{header}: {len(names)} spectra names for {spectra.shape[0]} spectra")
    return spectra, wavelengths, np.asarray([str(n).strip() for n in names])


def _read_csv_library(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(spectra (K,B), wavelengths nm (B,), names (K,))`` of a CSV: first column wavelength, one column per spectrum.

    An optional header row names the spectra; a first-column header mentioning ``um``/``µm``/``micro`` means the
    wavelengths are in micrometres (otherwise nanometres).
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path}: empty CSV spectral library")

    def is_number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    header = None if all(is_number(cell) for cell in rows[0] if cell.strip()) else rows[0]
    body = rows[1:] if header is not None else rows
    width = len(rows[0])
    if width < 2 or not body:
        raise DataError(f"{path}: a CSV library needs a wavelength column and at least one spectrum column")
    for number, row in enumerate(body, start=2 if header is not None else 1):
        if len(row) != width:
            raise DataError(f"{path}: row {number} has {len(row)} columns, the first row has {width}")
    try:
        table = np.array([[float(cell) for cell in row] for row in body], dtype=np.float64)
    except ValueError as error:
        raise DataError(f"{path}: non-numeric value in the CSV body ({error})") from error
    wavelengths = table[:, 0]
    unit_label = header[0].lower() if header is not None else ""
    if re.search(r"(^|[^a-z])(um|µm)([^a-z]|$)|micro", unit_label):
        wavelengths = wavelengths * 1000.0
    names = [cell.strip() for cell in header[1:]] if header is not None else [f"spectrum_{i}" for i in range(width - 1)]
    return table[:, 1:].T, wavelengths, np.asarray(names)


def load_library(path: str | Path) -> SpectralLibrary:
    """Read a user's spectral library: ENVI (``.sli``/``.hdr``, through ``spectral``) or CSV.

    CSV layout: first column the wavelength (nm; µm when its header says ``um``, ``µm`` or ``micro``), then one
    column per spectrum; an optional header row gives the spectrum names. Values are kept as stored (reflectance
    factors, usually 0-1). Every spectrum gets the class ``"user"``.

    Raises:
        DataError: missing file, unknown extension, unreadable content, NaN/Inf values, duplicate wavelengths.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: spectral library file not found")
    suffix = path.suffix.lower()
    if suffix in (".sli", ".hdr", ".lib"):
        spectra, wavelengths, names = _read_envi_library(path)
    elif suffix in (".csv", ".txt"):
        spectra, wavelengths, names = _read_csv_library(path)
    else:
        raise DataError(f"{path}: unknown spectral library format {suffix!r} (use an ENVI .sli/.hdr or a .csv)")
    if not np.all(np.isfinite(spectra)) or not np.all(np.isfinite(wavelengths)):
        raise DataError(f"{path}: the library holds NaN/Inf values")
    order = np.argsort(wavelengths, kind="stable")
    if np.any(np.diff(wavelengths[order]) <= 0):
        raise DataError(f"{path}: duplicate wavelengths")
    return SpectralLibrary(spectra[:, order], wavelengths[order], names, np.full(names.size, "user"))


# ---------------------------------------------------------------------------------------------------------------------
# earthlib
# ---------------------------------------------------------------------------------------------------------------------


def _earthlib_data_dir() -> Path:
    spec = importlib.util.find_spec("earthlib")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the earthlib package is not installed (pip install earthlib)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@functools.lru_cache(maxsize=1)
def _earthlib_native() -> SpectralLibrary:
    """The earthlib library at its own 180 band centres (read once per process)."""
    folder = _earthlib_data_dir()
    spectra, wavelengths, _ = _read_envi_library(folder / "spectra.sli")
    with open(folder / "spectra.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != spectra.shape[0]:
        raise DataError(f"{folder}: spectra.csv lists {len(rows)} spectra but spectra.sli holds {spectra.shape[0]}")
    names = [row["NAME"] for row in rows]
    classes = [f"{row['LEVEL_1']}/{row['LEVEL_2']}/{row['LEVEL_3']}".lower() for row in rows]
    return SpectralLibrary(np.clip(spectra, 0.0, 1.0), wavelengths, np.asarray(names), np.asarray(classes))


def earthlib_library(
    wavelengths: np.ndarray | None = None, classes: str | list[str] | tuple[str, ...] | None = None
) -> SpectralLibrary:
    """The earthlib spectral library (7,261 spectra), optionally filtered by class and resampled.

    Classes are ``"level1/level2/level3"`` paths; level 1 is ``pervious`` / ``impervious``; level 2 is ``bare``,
    ``vegetation`` (photosynthetic canopies), ``npv`` (non-photosynthetic vegetation), ``burned`` or ``built``;
    level 3 is the material (``soil``, ``sand``, ``canopy``, ``bark``, ``road``, ``comp_shingle``, ...). The library
    holds no water spectra.

    Args:
        wavelengths: band centres in nm to resample to; ``None`` keeps the native 400-2450 nm (180 bands).
        classes: class names or paths to keep (see :meth:`SpectralLibrary.select`); ``None`` keeps all.

    Returns:
        A :class:`SpectralLibrary` with reflectance clipped to [0, 1] (a few measurements exceed 1 by ~2 %).
    """
    library = _earthlib_native()
    if classes is not None:
        library = library.select(classes)
    if wavelengths is not None:
        return library.resample(wavelengths)
    return SpectralLibrary(library.spectra.copy(), library.wavelengths.copy(), library.names, library.classes)


# ---------------------------------------------------------------------------------------------------------------------
# colour-science reflectances
# ---------------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _colour_reflectances() -> tuple[tuple[np.ndarray, np.ndarray, str, str], ...]:
    """``(values (B,), wavelengths (B,), name, class)`` for each natural-object reflectance in colour-science."""
    import colour
    from colour.characterisation import read_training_data_rawtoaces_v1
    from colour.quality import SDS_TCS, SDS_VS

    entries: list[tuple[np.ndarray, np.ndarray, str, str]] = []
    training = read_training_data_rawtoaces_v1()
    for label, column in zip(training.labels, training.values.T, strict=True):
        entries.append((column, training.wavelengths, f"training {label}", "training/rawtoaces_190"))
    aliases = {"babel_average", "cc_ohta"}  # the same data as 'BabelColor Average' and 'ColorChecker N Ohta'
    groups = [
        ("skin" if key == "PMC" else "colourchecker", key, sds)
        for key, sds in colour.SDS_COLOURCHECKERS.items()
        if key not in aliases
    ]
    groups += [("tcs", key, sds) for key, sds in SDS_TCS.items()]
    groups += [("cqs", key, sds) for key, sds in SDS_VS.items()]
    for family, key, sds in groups:
        for label, sd in sds.items():
            entries.append((sd.values, sd.wavelengths, f"{key} {label}", f"{family}/{key}"))
    return tuple(entries)


def reflectance_sets(wavelengths: np.ndarray | None = None) -> SpectralLibrary:
    """Reflectances of natural and man-made objects shipped with colour-science (no download).

    The 190 rawtoaces/ACES training patches, ColorChecker 24 (BabelColor average, Ohta, ISO 17321-1), PMC skin tones
    (30), CIE test colour samples (1995: 14, 2024: 15) and NIST CQS samples (7.4 and 9.0: 15 each) -- 351 spectra
    measured between 360 and 830 nm. Classes are ``"<family>/<set>"`` (family: ``training``, ``colourchecker``,
    ``skin``, ``tcs``, ``cqs``).

    Args:
        wavelengths: band centres in nm; default 400, 410, ..., 700. Beyond a set's measured range its end value is
            held.

    Returns:
        A :class:`SpectralLibrary`, reflectance clipped to [0, 1].
    """
    if wavelengths is None:
        wavelengths = np.linspace(400.0, 700.0, 31)
    wavelengths = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
    entries = _colour_reflectances()
    spectra = np.stack([resample(values, nm, wavelengths) for values, nm, _, _ in entries])
    names = np.asarray([name for _, _, name, _ in entries])
    groups = np.asarray([group for _, _, _, group in entries])
    return SpectralLibrary(np.clip(spectra, 0.0, 1.0), wavelengths, names, groups)


# ---------------------------------------------------------------------------------------------------------------------
# Illuminants
# ---------------------------------------------------------------------------------------------------------------------

# Nominal correlated colour temperatures (K) of the thermal-like CIE sources (CIE 15:2004).
_THERMAL_CCT = {
    "A": 2856.0,
    "B": 4874.0,
    "C": 6774.0,
    "D50": 5003.0,
    "D55": 5503.0,
    "D60": 6004.0,
    "D65": 6504.0,
    "D75": 7504.0,
    "ID50": 5003.0,
    "ID65": 6504.0,
}
_D_SERIES = re.compile(r"^D(\d{4,5})$")


def illuminant_names() -> list[str]:
    """Names :func:`illuminant_spectrum` accepts besides ``"D<CCT>"`` (any CCT 4000-25000 K, e.g. ``"D5600"``)."""
    import colour

    return list(colour.SDS_ILLUMINANTS.keys())


def _planck(wavelengths_nm: np.ndarray, cct: float) -> np.ndarray:
    """Relative black-body spectral radiance, Planck's law ``λ^-5 / (exp(c2 / (λ T)) - 1)``, c2 = 1.4388e7 nm K."""
    nm = np.asarray(wavelengths_nm, dtype=np.float64)
    return nm**-5.0 / np.expm1(1.4388e7 / (nm * cct))


@functools.lru_cache(maxsize=64)
def _illuminant_table(name: str) -> tuple[np.ndarray, np.ndarray, float | None]:
    """``(values, wavelengths nm, CCT or None)`` of the tabulated illuminant ``name``."""
    import colour

    match = _D_SERIES.match(name)
    if name not in colour.SDS_ILLUMINANTS and match:
        cct = float(match.group(1))
        if not 4000.0 <= cct <= 25000.0:
            raise ConfigError(f"daylight illuminant {name!r}: the CIE D series is defined for 4000-25000 K")
        # CIE D-series chromaticity uses the CCT on the pre-1968 temperature scale (c2 = 1.4380e-2): multiply by the
        # ratio of the radiation constants, as CIE 15:2004 does for D65 = 6500 K * 1.4388 / 1.4380.
        xy = colour.temperature.CCT_to_xy_CIE_D(cct * 1.4388 / 1.4380)
        sd = colour.sd_CIE_illuminant_D_series(xy)
        return np.asarray(sd.values, dtype=np.float64), np.asarray(sd.wavelengths, dtype=np.float64), cct
    if name not in colour.SDS_ILLUMINANTS:
        raise ConfigError(
            f"unknown illuminant {name!r}; use 'D<CCT>' (e.g. D5600) or one of: {', '.join(illuminant_names())}"
        )
    sd = colour.SDS_ILLUMINANTS[name]
    return (
        np.asarray(sd.values, dtype=np.float64),
        np.asarray(sd.wavelengths, dtype=np.float64),
        _THERMAL_CCT.get(name),
    )


def illuminant_spectrum(name: str, wavelengths: np.ndarray | None = None) -> np.ndarray:
    """Relative spectral power of a light source at ``wavelengths`` (nm), as tabulated by colour-science.

    ``name`` is a key of ``colour.SDS_ILLUMINANTS`` (``"A"``, ``"D50"``, ``"D65"``, ``"FL2"``, ``"FL11"``,
    ``"LED-B3"``, ``"HP1"`` ...) or ``"D<CCT>"`` for the CIE daylight of that correlated colour temperature in kelvin
    (``"D5600"``, ``"D10000"``). Values are linearly interpolated inside the tabulated range (300-830 nm for most
    thermal sources, 380-780 nm for lamps). Outside it, thermal and daylight sources (A, B, C, D-series, ID50/65)
    continue as a black body of their CCT scaled to meet the tabulated end value; the equal-energy source E stays
    flat; fluorescent, LED and discharge lamps emit nothing there.

    Returns:
        ``(C,)`` float64, the colour-science scale (D-series = 100 at 560 nm).
    """
    values, nm, cct = _illuminant_table(name)
    wavelengths = np.linspace(400.0, 700.0, 31) if wavelengths is None else np.asarray(wavelengths, np.float64)
    wavelengths = wavelengths.reshape(-1)
    spectrum = resample(values, nm, wavelengths)
    below, above = wavelengths < nm[0], wavelengths > nm[-1]
    if name == "E":
        return spectrum
    if cct is not None:
        if below.any():
            spectrum[below] = values[0] * _planck(wavelengths[below], cct) / _planck(nm[:1], cct)[0]
        if above.any():
            spectrum[above] = values[-1] * _planck(wavelengths[above], cct) / _planck(nm[-1:], cct)[0]
    else:
        spectrum[below | above] = 0.0
    return spectrum


def successive_projection(spectra: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` extreme pixels of ``spectra (P, C)`` by the successive projection algorithm: the pixel of
    largest norm, then repeatedly the pixel of largest norm after projecting out the ones chosen (M. C. U. Araújo et
    al., Chemometrics and Intelligent Laboratory Systems 57(2), 2001; N. Gillis, S. A. Vavasis, "Fast and robust
    recursive algorithms for separable nonnegative matrix factorization", IEEE TPAMI 36(4), 2014). Under the linear
    mixing model with pure pixels present, these are the endmembers."""
    residual = spectra.astype(np.float64).copy()
    chosen = []
    for _ in range(count):
        index = int(np.argmax((residual**2).sum(axis=1)))
        chosen.append(index)
        direction = residual[index] / max(np.linalg.norm(residual[index]), 1e-12)
        residual -= np.outer(residual @ direction, direction)
    return np.asarray(chosen)


def training_library(cube: np.ndarray, wavelengths: np.ndarray, count: int) -> SpectralLibrary:
    """``count`` endmembers of a training cube ``(H, W, C)`` (or pixels ``(P, C)``) at its band centres ``(C,)``:
    the pixels :func:`successive_projection` picks, named ``"pixel <row>,<column>"`` (``"pixel <index>"`` for
    ``(P, C)`` input), class ``"training"``.

    Raises:
        ConfigError: ``count`` is not between 1 and the number of pixels.
    """
    pixels = cube.reshape(-1, cube.shape[-1])
    if not 1 <= count <= len(pixels):
        raise ConfigError(f"a training library needs 1 to {len(pixels)} endmembers (the pixels), got {count}")
    chosen = successive_projection(pixels, count)
    if cube.ndim == 3:
        names = [f"pixel {i // cube.shape[1]},{i % cube.shape[1]}" for i in chosen]
    else:
        names = [f"pixel {i}" for i in chosen]
    return SpectralLibrary(
        pixels[chosen].astype(np.float64),
        np.asarray(wavelengths, np.float64),
        np.asarray(names),
        np.full(count, "training"),
    )


def library_from_spec(spec: dict, wavelengths: np.ndarray, training_cube: np.ndarray | None = None) -> SpectralLibrary:
    """The spectral library R of a run, resampled to the cube's band centres.

    ``spec`` (the ``data.library`` section of a config):

    * ``source``: ``"earthlib"`` (default; field and laboratory spectra, see
      :func:`earthlib_library`), ``"training"`` (the ``count`` endmembers of ``training_cube`` ``(H, W, C)`` at
      ``wavelengths``, by :func:`training_library`), or the path of a user library (ENVI ``.sli`` or CSV);
    * ``classes``: earthlib classes to keep (e.g. ``[vegetation, soil, built]``), default all;
    * ``count``: at most this many spectra, drawn at random (``seed``) from those classes (default 64; the paper uses
      345 USGS spectra, which are not available here); for ``"training"``, the number of endmembers;
    * ``shade``: append an all-zero "shade" spectrum (default true) so that dark pixels (water, shadow) are
      reachable by the convex mixture.
    """
    source = spec.get("source", "earthlib")
    count = int(spec.get("count", 64))
    if source == "training":
        if training_cube is None:
            raise ConfigError("data.library.source 'training' needs a training cube (this task has none)")
        try:
            library = training_library(training_cube, wavelengths, count)
        except ConfigError as exc:
            raise ConfigError(f"data.library.count: {exc}") from None
    elif source == "earthlib":
        library = earthlib_library(wavelengths, spec.get("classes"))
    else:
        library = load_library(source).resample(wavelengths)
    if 0 < count < len(library):
        keep = np.sort(np.random.default_rng(int(spec.get("seed", 0))).choice(len(library), count, replace=False))
        library = SpectralLibrary(
            library.spectra[keep], library.wavelengths, library.names[keep], library.classes[keep]
        )
    if spec.get("shade", True):
        library = SpectralLibrary(
            np.vstack([library.spectra, np.zeros((1, library.spectra.shape[1]))]),
            library.wavelengths,
            np.append(library.names, "shade"),
            np.append(library.classes, "shade"),
        )
    return library
