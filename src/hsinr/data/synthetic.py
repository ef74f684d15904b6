"""Physically grounded synthetic hyperspectral scenes: real photographs re-lit with measured spectra.

A scene is built from one of the colour photographs bundled inside scikit-image (no download) and measured spectra
(:mod:`hsinr.spectral.library`), following the image formation model of a Lambertian surface with a dichromatic
specular term (Shafer 1985; eq. 1 of the INSS paper without the atmosphere):

    cube(x, λ) = (reflectance(x, λ) + specular(x)) · illumination(x, λ)             (then optional sensor noise)

1. **Layout.** A random crop of the photo (random scale, position, mirror) is resized to the requested size and
   decoded from sRGB to linear RGB. SLIC superpixels split it into 50-200 regions (``labels``).
2. **Materials.** Each region gets the measured spectrum whose rendered colour (CIE 1931 observer -> linear sRGB,
   under the scene's main illuminant, white-normalised) is closest to the region's colour, scaled as far as it can
   be while staying <= 1 (one of the three best matches, mostly the best: a little randomness). Natural scenes draw
   from the colour-science reflectance sets. Remote-sensing scenes draw from earthlib: the greenest 20-50 % of the
   regions from vegetation canopies, the others from soil, non-photosynthetic vegetation and built surfaces.
3. **Texture.** Inside a region two spectra are matched to the colours of its darker and brighter halves and mixed
   per pixel by the photo's luminance; a third spectrum of similar colour (a near-metamer) is mixed in with a smooth
   random weight (up to 0.5), so the spectra vary more than the colours do. The reflectance is blurred slightly
   (Gaussian, 0.5-1.2 px: soft region edges; blurring the mixed reflectance equals blurring the abundance maps).
4. **Light.** Two illuminants (daylight of random CCT, tungsten A, fluorescent or LED lamps; sun and sky for remote
   scenes), each normalised to unit luminance, are blended across the image along a random direction; a smooth
   random shading field darkens it by up to 45 % (15 % for remote scenes).
5. **Highlights.** A few Gaussian specular spots on the photo's brightest pixels reflect the illuminant unchanged.
6. **Exposure.** The cube is scaled so its maximum is a random value in [0.9, 1.0]; the same gain is folded into
   ``illumination``, so the equation above holds exactly before noise.

Everything random comes from ``numpy.random.default_rng(seed)``: the same seed gives a bit-identical scene.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.segmentation import slic
from skimage.transform import resize

from ..cube import Cube, default_wavelengths
from ..errors import ConfigError, DataError
from ..io.atomic import prepare_output_folder, write_text_atomic
from ..spectral import CameraResponse, render_rgb, resolve_response
from ..spectral.library import SpectralLibrary, earthlib_library, illuminant_spectrum, reflectance_sets

__all__ = ["GENERATOR_VERSION", "KINDS", "PHOTOS", "SyntheticScene", "generate_scene", "write_synthetic_dataset"]

#: Bumped whenever the same seed would produce a different scene.
GENERATOR_VERSION = "1"
#: Scene kinds: ``natural`` (colour-science reflectances, indoor/outdoor lights) or ``remote`` (earthlib, daylight).
KINDS = ("natural", "remote")
#: The colour photographs shipped inside scikit-image that give the spatial layout.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")

# Band centres (nm) on which colours are matched, independent of the output bands: 380-780 nm every 10 nm.
_COLOUR_GRID = np.arange(380.0, 781.0, 10.0)
_LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])  # linear sRGB -> relative luminance Y
_REMOTE_CLASSES = ("bare", "vegetation", "npv", "built")


@dataclass
class SyntheticScene:
    """One synthetic scene. ``cube == (reflectance + specular[..., None]) * illumination`` before noise.

    Attributes:
        cube: ``(H, W, C)`` float32 radiance-like values in [0, 1]; maximum in [0.9, 1.0] (without noise).
        rgb: ``(H, W, 3)`` float32 ``render_rgb(cube, srf)`` when a response was given, else ``None``.
        reflectance: ``(H, W, C)`` float32 reflectance factors in [0, 1].
        illumination: ``(H, W, C)`` float32 incident light per pixel: illuminant blend x shading x exposure gain.
        labels: ``(H, W)`` int32 region map (SLIC superpixels of the photo), values ``0 .. regions - 1``.
        meta: JSON-serialisable description (seed, photo, crop, illuminants, gain, ...).
        specular: ``(H, W)`` float32 specular (interface) reflectance, >= 0.
        photo: ``(H, W, 3)`` float32 the photo crop the layout came from, linear sRGB in [0, 1].
    """

    cube: np.ndarray
    rgb: np.ndarray | None
    reflectance: np.ndarray
    illumination: np.ndarray
    labels: np.ndarray
    meta: dict
    specular: np.ndarray
    photo: np.ndarray


@dataclass(frozen=True)
class _KindSettings:
    library: str
    shading_depth: tuple[float, float]
    secondary_weight: tuple[float, float]
    highlights: tuple[int, int]  # inclusive range of the number of specular spots


_SETTINGS = {
    "natural": _KindSettings("colour-science reflectance sets", (0.15, 0.45), (0.15, 0.6), (1, 4)),
    "remote": _KindSettings("earthlib (bare, vegetation, npv, built)", (0.0, 0.15), (0.05, 0.3), (0, 1)),
}


# ------------------------------------------------------------------------------------------------------ photographs


@functools.cache
def _photo_srgb(name: str) -> np.ndarray:
    """A bundled photograph as float32 ``(H, W, 3)`` sRGB-encoded values in [0, 1] (read once per process)."""
    import skimage.data

    image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    return (np.asarray(image[..., :3], dtype=np.float32) / 255.0).astype(np.float32)


def _srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding: ``v / 12.92`` below 0.04045, ``((v + 0.055) / 1.055) ** 2.4`` above."""
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _crop_photo(rng: np.random.Generator, height: int, width: int) -> tuple[str, np.ndarray, dict]:
    """A random crop of a random photo with the aspect ratio of ``(height, width)``, resized to it (sRGB, [0, 1])."""
    name = PHOTOS[int(rng.integers(len(PHOTOS)))]
    photo = _photo_srgb(name)
    rows, cols = photo.shape[:2]
    aspect = height / width
    full_h = min(rows, cols * aspect)
    scale = rng.uniform(0.45, 1.0)
    crop_h = max(2, int(round(full_h * scale)))
    crop_w = max(2, min(cols, int(round(crop_h / aspect))))
    y0 = int(rng.integers(rows - crop_h + 1))
    x0 = int(rng.integers(cols - crop_w + 1))
    flip = bool(rng.random() < 0.5)
    crop = photo[y0 : y0 + crop_h, x0 : x0 + crop_w]
    if flip:
        crop = crop[:, ::-1]
    shrinking = crop_h > height or crop_w > width
    resized = resize(
        crop, (height, width), order=1, mode="reflect", anti_aliasing=shrinking, preserve_range=True
    ).astype(np.float32)
    return name, np.clip(resized, 0.0, 1.0), {"crop": [y0, x0, crop_h, crop_w], "mirrored": flip}


def _segment(srgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SLIC superpixels (Achanta et al. 2012) of the sRGB crop, relabelled ``0 .. R-1`` (int32)."""
    height, width = srgb.shape[:2]
    segments = int(min(rng.integers(50, 201), max(1, height * width // 16)))
    labels = slic(
        srgb,
        n_segments=segments,
        compactness=float(rng.uniform(5.0, 20.0)),
        sigma=1.0,
        max_num_iter=5,
        start_label=0,
        channel_axis=-1,
    )
    _, dense = np.unique(labels, return_inverse=True)
    return dense.reshape(height, width).astype(np.int32)


# -------------------------------------------------------------------------------------------------------- materials


@functools.lru_cache(maxsize=1)
def _xyz_to_linear_srgb_response() -> np.ndarray:
    """``(3, len(_COLOUR_GRID))`` CIE 1931 2° colour-matching functions mapped to linear sRGB (D65) primaries."""
    import colour

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    xyz = np.stack([np.interp(_COLOUR_GRID, cmfs.wavelengths, cmfs.values[:, i]) for i in range(3)])
    return np.asarray(colour.models.RGB_COLOURSPACE_sRGB.matrix_XYZ_to_RGB, dtype=np.float64) @ xyz


@functools.lru_cache(maxsize=8)
def _materials(kind: str, wavelengths: tuple[float, ...]) -> tuple[SpectralLibrary, np.ndarray]:
    """The kind's library at the output bands and its spectra on the colour grid ``(K, len(_COLOUR_GRID))``."""
    if kind == "remote":
        native = earthlib_library(classes=_REMOTE_CLASSES)
    else:
        native = reflectance_sets(_COLOUR_GRID)
    output = native.resample(np.asarray(wavelengths))
    output.spectra = output.spectra.astype(np.float32)
    return output, native.resample(_COLOUR_GRID).spectra


def _library_colours(spectra_on_grid: np.ndarray, illuminant_on_grid: np.ndarray) -> np.ndarray:
    """Linear-sRGB colours ``(K, 3)`` of reflectances under an illuminant, a perfect white rendering as (1, 1, 1).

    White normalisation per channel is a von Kries adaptation in sRGB space, matching a white-balanced photograph.
    """
    response = _xyz_to_linear_srgb_response()
    white = response @ illuminant_on_grid
    return (spectra_on_grid * illuminant_on_grid) @ response.T / white


def _match(
    colours: np.ndarray,
    library_colours: np.ndarray,
    max_scale: np.ndarray,
    rng: np.random.Generator,
    candidates: int,
    best_probability: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Index and scale of a library spectrum for each target colour.

    For target ``c`` and library colour ``p`` the least-squares scale is ``k = (c·p)/(p·p)``, clipped to
    ``[0, max_scale]`` so the scaled reflectance stays <= 1; the error is ``|c - k p|²``. The best match is taken
    with probability ``best_probability``, otherwise one of the next ``candidates - 1`` uniformly.
    """
    candidates = min(candidates, library_colours.shape[0])
    norms = np.maximum((library_colours**2).sum(axis=1), 1e-12)
    dots = colours @ library_colours.T
    scale = np.clip(dots / norms, 0.0, max_scale)
    error = (colours**2).sum(axis=1)[:, None] - 2.0 * scale * dots + scale**2 * norms  # |c - k p|^2 expanded
    rows = np.arange(len(colours))[:, None]
    nearest = np.argpartition(error, candidates - 1, axis=1)[:, :candidates]
    nearest = nearest[rows, np.argsort(error[rows, nearest], axis=1, kind="stable")]
    rank = np.where(
        rng.random(len(colours)) < best_probability, 0, rng.integers(1, max(candidates, 2), size=len(colours))
    )
    rank = np.minimum(rank, candidates - 1)
    index = nearest[np.arange(len(colours)), rank]
    return index, scale[np.arange(len(colours)), index]


def _match_in_groups(
    colours: np.ndarray,
    colour_groups: np.ndarray,
    library_colours: np.ndarray,
    library_groups: np.ndarray,
    max_scale: np.ndarray,
    rng: np.random.Generator,
    candidates: int,
    best_probability: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_match` restricted, for each target colour, to the library spectra of the same group number."""
    index = np.zeros(len(colours), dtype=np.int64)
    scale = np.zeros(len(colours), dtype=np.float64)
    for group in np.unique(colour_groups):
        targets, members = colour_groups == group, np.flatnonzero(library_groups == group)
        local, scale[targets] = _match(
            colours[targets], library_colours[members], max_scale[members], rng, candidates, best_probability
        )
        index[targets] = members[local]
    return index, scale


def _material_groups(
    kind: str, mean_colours: np.ndarray, library: SpectralLibrary, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """Which library spectra each region may use: ``(region group (R,), library group (K,), vegetation fraction)``.

    Natural scenes: one group, any spectrum. Remote scenes: the bundled photos hold little green, so a random
    fraction (20-50 %) of the regions, those of highest green chromaticity ``G / (R + G + B)``, become vegetation
    canopies (group 1) and the rest draw from soil, non-photosynthetic vegetation and built surfaces (group 0).
    """
    regions = mean_colours.shape[0]
    if kind != "remote":
        return np.zeros(regions, dtype=np.int64), np.zeros(len(library), dtype=np.int64), 0.0
    fraction = float(rng.uniform(0.2, 0.5))
    greenness = mean_colours[:, 1] / np.maximum(mean_colours.sum(axis=1), 1e-6)
    region_group = np.zeros(regions, dtype=np.int64)
    region_group[np.argsort(-greenness, kind="stable")[: int(np.ceil(fraction * regions))]] = 1
    library_group = np.array([path.split("/")[1] == "vegetation" for path in library.classes], dtype=np.int64)
    return region_group, library_group, fraction


def _region_means(values: np.ndarray, labels: np.ndarray, mask: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Per-region mean of ``values`` ``(H, W, D)`` over pixels where ``mask``; ``fallback`` for empty regions."""
    regions = fallback.shape[0]
    flat_labels = labels[mask]
    counts = np.bincount(flat_labels, minlength=regions).astype(np.float64)
    sums = np.stack(
        [np.bincount(flat_labels, weights=values[..., d][mask], minlength=regions) for d in range(values.shape[-1])],
        axis=1,
    )
    return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1.0)[:, None], fallback)


# ------------------------------------------------------------------------------------------------------------- light


def _smooth_field(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """A smooth random field in [0, 1]: uniform noise on a ``(cells + 1)²`` grid spanning the image, interpolated
    with normalised Gaussian bumps (σ = one grid spacing), i.e. ``B_rows @ noise @ B_cols.T``, min-max rescaled."""

    def basis(length: int) -> np.ndarray:
        position = np.linspace(0.0, cells, length)[:, None]
        weights = np.exp(-0.5 * (position - np.arange(cells + 1)[None, :]) ** 2)
        return weights / weights.sum(axis=1, keepdims=True)

    field = basis(height) @ rng.random((cells + 1, cells + 1)) @ basis(width).T
    low, high = field.min(), field.max()
    return ((field - low) / (high - low if high > low else 1.0)).astype(np.float32)


def _illuminant_names(kind: str, rng: np.random.Generator) -> tuple[str, str]:
    """Main and secondary light: sun and sky for remote scenes; daylight, tungsten or lamps for natural ones."""
    if kind == "remote":
        return f"D{int(rng.integers(50, 66)) * 100}", f"D{int(rng.integers(80, 201)) * 100}"
    draw = rng.random()
    if draw < 0.55:
        main = f"D{int(rng.integers(45, 91)) * 100}"
    elif draw < 0.75:
        main = "A"
    elif draw < 0.9:
        main = ("FL2", "FL4", "FL11", "FL3.15")[int(rng.integers(4))]
    else:
        main = ("LED-B3", "LED-B4", "LED-BH1")[int(rng.integers(3))]
    secondary = f"D{int(rng.integers(60, 161)) * 100}" if rng.random() < 0.6 else "A"
    return main, secondary


def _unit_luminance_illuminant(name: str, wavelengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An illuminant at the output bands and on the colour grid, both divided by its luminance ``∫ L ȳ``."""
    on_grid = illuminant_spectrum(name, _COLOUR_GRID)
    luminance = float(_LUMINANCE_WEIGHTS @ (_xyz_to_linear_srgb_response() @ on_grid))
    return illuminant_spectrum(name, wavelengths) / luminance, on_grid / luminance


def _blend_map(rng: np.random.Generator, height: int, width: int, weight: float) -> np.ndarray:
    """Weight of the secondary light, ``weight · sigmoid(ramp / softness)`` along a random direction."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    centre_y, centre_x = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width
    softness = rng.uniform(0.05, 0.3)
    rows = (np.arange(height, dtype=np.float32)[:, None] - centre_y) / max(height, width)
    cols = (np.arange(width, dtype=np.float32)[None, :] - centre_x) / max(height, width)
    ramp = rows * np.float32(np.sin(angle)) + cols * np.float32(np.cos(angle))
    return (weight / (1.0 + np.exp(-ramp / softness))).astype(np.float32)


def _highlights(rng: np.random.Generator, luminance: np.ndarray, count: int) -> np.ndarray:
    """Sum of ``count`` Gaussian spots (amplitude 0.2-0.8, σ 1-4 px per 256 px) centred on the brightest 1 % pixels."""
    height, width = luminance.shape
    specular = np.zeros((height, width), dtype=np.float32)
    if count == 0:
        return specular
    bright = np.flatnonzero(luminance >= np.quantile(luminance, 0.99))
    scale = max(height, width) / 256.0
    rows, cols = np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32)
    for centre in rng.choice(bright, size=count):
        cy, cx = divmod(int(centre), width)
        sigma = rng.uniform(1.0, 4.0) * scale
        amplitude = np.float32(rng.uniform(0.2, 0.8))
        specular += amplitude * np.outer(
            np.exp(-0.5 * ((rows - cy) / sigma) ** 2), np.exp(-0.5 * ((cols - cx) / sigma) ** 2)
        ).astype(np.float32)
    return specular


# ---------------------------------------------------------------------------------------------------------- scenes


def _class_counts(classes: np.ndarray) -> dict[str, int]:
    """How many region spectra (dark, bright and near-metamer, three per region) came from each library class."""
    names, counts = np.unique(classes, return_counts=True)
    return {str(name): int(count) for name, count in zip(names, counts, strict=True)}


def _shape(size: int | tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair; ConfigError unless both are integers >= 4."""
    pair = (size, size) if np.isscalar(size) else tuple(np.ravel(size).tolist())
    if len(pair) != 2 or not all(float(side).is_integer() and side >= 4 for side in pair):
        raise ConfigError(f"scene size must be an int or (height, width) of integers >= 4, got {size!r}")
    return int(pair[0]), int(pair[1])


def _response(srf, wavelengths: np.ndarray) -> tuple[CameraResponse | np.ndarray, str]:
    """A response at ``wavelengths`` from a spec string, a :class:`CameraResponse` or a ``(3, C)`` array."""
    if isinstance(srf, str):
        return resolve_response(srf, wavelengths), srf
    if isinstance(srf, CameraResponse):
        matches = srf.bands == wavelengths.size and np.allclose(srf.wavelengths, wavelengths)
        return (srf if matches else srf.resampled(wavelengths)), srf.name
    matrix = np.asarray(srf, dtype=np.float64)
    if matrix.shape != (3, wavelengths.size):
        raise DataError(f"camera response of shape {matrix.shape} does not fit {wavelengths.size} bands (3, C)")
    return matrix, "array"


def generate_scene(
    size: int | tuple[int, int] = 256,
    wavelengths: np.ndarray | None = None,
    seed: int = 0,
    kind: str = "natural",
    srf=None,
    noise: float = 0.0,
) -> SyntheticScene:
    """Generate one synthetic hyperspectral scene (see the module docstring for the model).

    Args:
        size: ``H = W = size`` or ``(H, W)``; at least 4 pixels each way.
        wavelengths: ``(C,)`` band centres in nm (any set, increasing); default 400, 410, ..., 700.
        seed: the scene's seed; the same seed (and arguments) gives a bit-identical scene.
        kind: ``"natural"`` (colour-science reflectances; daylight, tungsten, fluorescent and LED light) or
            ``"remote"`` (earthlib soil, vegetation, non-photosynthetic vegetation and built-surface spectra; sun and
            sky light; weak shading, few highlights).
        srf: camera response for ``rgb``: a builtin name or file spec (:func:`hsinr.spectral.resolve_response`), a
            :class:`hsinr.spectral.CameraResponse` (resampled when needed) or a ``(3, C)`` array; ``None``: no RGB.
            The RGB is the plain linear rendering ``cube @ srf.T`` (eq. 4 of INR-HSISR): not white-balanced (the
            illuminant's colour shows) and not clipped (<= 1 for sum-normalised builtin responses).
        noise: sensor noise level; each value gets Gaussian noise of standard deviation
            ``noise · sqrt(value + 0.01)`` (shot noise plus a read-noise floor), then is clipped to [0, 1].

    Returns:
        A :class:`SyntheticScene`.

    Raises:
        ConfigError: unknown kind, bad size or noise. DataError: unusable wavelengths or response.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown synthetic scene kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not np.isfinite(noise) or noise < 0:
        raise ConfigError(f"noise must be a non-negative number, got {noise!r}")
    height, width = _shape(size)
    wavelengths = default_wavelengths() if wavelengths is None else np.asarray(wavelengths, np.float64).reshape(-1)
    if wavelengths.size == 0 or not np.all(np.isfinite(wavelengths)) or np.any(np.diff(wavelengths) <= 0):
        raise DataError(f"wavelengths must be finite and strictly increasing, got {wavelengths}")
    settings = _SETTINGS[kind]
    rng = np.random.default_rng(seed)

    photo_name, srgb, crop = _crop_photo(rng, height, width)
    linear = _srgb_to_linear(srgb)
    labels = _segment(srgb, rng)
    luminance = linear @ _LUMINANCE_WEIGHTS.astype(np.float32)

    main_light, second_light = _illuminant_names(kind, rng)
    main_out, main_grid = _unit_luminance_illuminant(main_light, wavelengths)
    second_out, _ = _unit_luminance_illuminant(second_light, wavelengths)

    # Materials: spectra matched to the darker / brighter half of each region and a near-metamer of its mean colour.
    library, grid_spectra = _materials(kind, tuple(float(w) for w in wavelengths))
    colours = _library_colours(grid_spectra, main_grid)
    max_scale = 1.0 / np.maximum(np.maximum(library.spectra.max(axis=1), grid_spectra.max(axis=1)), 1e-6)
    everywhere = np.ones(labels.shape, dtype=bool)
    regions = int(labels.max()) + 1
    mean = _region_means(linear, labels, everywhere, np.zeros((regions, 3)))
    region_luminance = mean @ _LUMINANCE_WEIGHTS
    brighter = luminance > region_luminance[labels]
    dark = _region_means(linear, labels, ~brighter, mean)
    bright = _region_means(linear, labels, brighter, mean)
    region_group, library_group, vegetation_fraction = _material_groups(kind, mean, library, rng)
    index, scale = _match_in_groups(
        np.concatenate([dark, bright]),
        np.concatenate([region_group, region_group]),
        colours,
        library_group,
        max_scale,
        rng,
        3,
        0.7,
    )
    endmembers = (scale[:, None] * library.spectra[index]).astype(np.float32)
    dark_spectra, bright_spectra = endmembers[:regions], endmembers[regions:]
    alt_index, alt_scale = _match_in_groups(mean, region_group, colours, library_group, max_scale, rng, 6, 0.0)
    alternative = (alt_scale[:, None] * library.spectra[alt_index]).astype(np.float32)

    dark_y = (dark @ _LUMINANCE_WEIGHTS).astype(np.float32)
    spread = np.maximum(bright @ _LUMINANCE_WEIGHTS - dark_y, 1e-6).astype(np.float32)
    mix = np.clip((luminance - dark_y[labels]) / spread[labels], 0.0, 1.0)[..., None]
    reflectance = dark_spectra[labels] * (1.0 - mix) + bright_spectra[labels] * mix
    metamer_weight = (0.5 * _smooth_field(rng, height, width, int(rng.integers(2, 6))))[..., None]
    reflectance = reflectance * (1.0 - metamer_weight) + alternative[labels] * metamer_weight
    edge_sigma = float(rng.uniform(0.5, 1.2))
    reflectance = np.clip(gaussian_filter(reflectance, sigma=(edge_sigma, edge_sigma, 0.0), truncate=2.5), 0.0, 1.0)

    # Light: two illuminants blended across the image, smooth shading.
    shading_depth = float(rng.uniform(*settings.shading_depth))
    shading = 1.0 - shading_depth * _smooth_field(rng, height, width, int(rng.integers(2, 5)))
    second_weight = float(rng.uniform(*settings.secondary_weight))
    blend = _blend_map(rng, height, width, second_weight)
    illumination = (shading * (1.0 - blend))[..., None] * main_out.astype(np.float32) + (shading * blend)[
        ..., None
    ] * second_out.astype(np.float32)

    highlight_count = int(rng.integers(settings.highlights[0], settings.highlights[1] + 1))
    specular = _highlights(rng, luminance, highlight_count)
    cube = (reflectance + specular[..., None]) * illumination
    peak = float(cube.max())
    target_peak = float(rng.uniform(0.9, 1.0))
    gain = np.float32(target_peak / peak if peak > 0 else 1.0)
    cube *= gain
    illumination *= gain
    if noise > 0:
        cube = np.clip(
            cube
            + rng.standard_normal(cube.shape, dtype=np.float32) * np.float32(noise) * np.sqrt(cube + np.float32(0.01)),
            0.0,
            1.0,
        )

    rgb, response_name = None, None
    if srf is not None:
        response, response_name = _response(srf, wavelengths)
        rgb = render_rgb(cube, response)

    meta = {
        "generator": "hsinr.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "kind": kind,
        "size": [height, width],
        "wavelengths": [float(w) for w in wavelengths],
        "photo": photo_name,
        **crop,
        "regions": regions,
        "vegetation_fraction": vegetation_fraction,
        "library": settings.library,
        "illuminants": [main_light, second_light],
        "secondary_weight_max": second_weight,
        "shading_depth": shading_depth,
        "edge_blur_px": edge_sigma,
        "highlights": highlight_count,
        "gain": float(gain),
        "noise": float(noise),
        "response": response_name,
        "materials": _class_counts(library.classes[np.concatenate([index, alt_index])]),
    }
    return SyntheticScene(
        cube.astype(np.float32, copy=False),
        rgb,
        reflectance.astype(np.float32, copy=False),
        illumination.astype(np.float32, copy=False),
        labels,
        meta,
        specular,
        linear,
    )


def write_synthetic_dataset(
    out_dir: str | Path,
    count: int,
    size: int | tuple[int, int] = 256,
    seed: int = 0,
    wavelengths: np.ndarray | None = None,
    srf_spec: str = "srgb",
    kind: str = "natural",
    noise: float = 0.0,
) -> list[Path]:
    """Write ``count`` scenes as a ``folder`` dataset: ``scene_0000.h5`` + ``scene_0000_rgb.png`` each, ``meta.json``.

    Cubes (with their band centres) go through :func:`hsinr.io.write_cube`, RGB images (``render_rgb(cube, srf)``,
    linear, 16-bit PNG) through :func:`hsinr.io.write_rgb`. Scene ``i`` uses seed
    ``numpy.random.SeedSequence(seed).generate_state(count)[i]``, so datasets of different ``seed`` do not share
    scenes, and the first ``n`` scenes do not depend on ``count``; ``meta.json`` records the seeds, response, photo
    and illuminants of every scene.

    Args:
        out_dir: folder to write (created; existing scene files are overwritten).
        count: number of scenes, >= 1.
        size, wavelengths, kind, noise: as in :func:`generate_scene`.
        seed: dataset seed.
        srf_spec: camera response spec (builtin name or file) for the RGB images; default ``"srgb"``.

    Returns:
        The cube paths, in scene order.
    """
    from ..io import write_cube, write_rgb
    from ..progress import progress_bar

    if int(count) != count or count < 1:
        raise ConfigError(f"count must be a positive integer, got {count!r}")
    count = int(count)
    out = prepare_output_folder(out_dir)
    wavelengths = default_wavelengths() if wavelengths is None else np.asarray(wavelengths, np.float64).reshape(-1)
    response = resolve_response(srf_spec, wavelengths)
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]
    digits = max(4, len(str(count - 1)))
    paths, records = [], []
    bar = progress_bar(
        seeds, desc=f"{count} synthetic scenes", unit="scene", enabled=count > 1, line_every=max(1, count // 10)
    )
    for number, scene_seed in enumerate(bar):
        scene = generate_scene(size, wavelengths, scene_seed, kind, srf=response, noise=noise)
        assert scene.rgb is not None  # rendered with `response`
        stem = f"scene_{number:0{digits}d}"
        cube_path, rgb_path = out / f"{stem}.h5", out / f"{stem}_rgb.png"
        write_cube(cube_path, Cube(scene.cube, wavelengths))
        write_rgb(rgb_path, scene.rgb, bits=16)
        paths.append(cube_path)
        records.append(
            {
                "cube": cube_path.name,
                "rgb": rgb_path.name,
                **{key: value for key, value in scene.meta.items() if key != "wavelengths"},
            }
        )
    summary = {
        "generator": "hsinr.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "count": count,
        "seed": int(seed),
        "kind": kind,
        "size": list(_shape(size)),
        "response": srf_spec,
        "noise": float(noise),
        "wavelengths": [float(w) for w in wavelengths],
        "scene_seeds": seeds,
        "scenes": records,
    }
    write_text_atomic(out / "meta.json", json.dumps(summary, indent=2))
    return paths
