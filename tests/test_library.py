"""Spectral libraries: earthlib, colour-science reflectances, user CSV / ENVI files, illuminants, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from hsinr.errors import ConfigError, DataError
from hsinr.spectral.library import (
    SpectralLibrary,
    earthlib_library,
    illuminant_spectrum,
    load_library,
    reflectance_sets,
    resample,
    successive_projection,
    training_library,
)


def test_resample_interpolates_linearly_and_holds_the_ends():
    # Hand-computed: the line 0 -> 10 between 400 and 500 nm, held flat outside.
    out = resample(np.array([[0.0, 10.0], [4.0, 2.0]]), [400.0, 500.0], [450.0, 400.0, 380.0, 520.0, 475.0])
    np.testing.assert_allclose(out, [[5.0, 0.0, 0.0, 10.0, 7.5], [3.0, 4.0, 4.0, 2.0, 2.5]])


def test_resample_sorts_unordered_source_wavelengths():
    out = resample(np.array([10.0, 0.0]), [500.0, 400.0], [425.0])
    np.testing.assert_allclose(out, [2.5])


def test_earthlib_loads_with_nanometre_wavelengths_and_classes():
    library = earthlib_library()
    assert library.spectra.shape == (7261, 180)
    assert library.wavelengths[0] == pytest.approx(400.0) and library.wavelengths[-1] == pytest.approx(2450.0)
    assert np.all(np.diff(library.wavelengths) > 0)
    assert library.spectra.min() >= 0.0 and library.spectra.max() <= 1.0
    assert {"soil", "vegetation", "npv", "built", "impervious", "pervious"} <= set(library.class_parts())


def test_earthlib_vegetation_has_a_red_edge_and_soil_brightens_towards_swir():
    vegetation = earthlib_library([670.0, 800.0], classes="vegetation").spectra
    assert np.median(vegetation[:, 1] / np.maximum(vegetation[:, 0], 1e-6)) > 3.0  # chlorophyll red edge
    soil = earthlib_library([450.0, 1650.0], classes="soil").spectra
    assert np.mean(soil[:, 1] > soil[:, 0]) > 0.95  # iron oxides and organic matter absorb in the blue


def test_class_filter_counts_match_the_earthlib_metadata():
    assert len(earthlib_library(classes="vegetation")) == 2000
    assert len(earthlib_library(classes=["soil", "built"])) == 4185 + 888
    bare = earthlib_library(classes="pervious/bare")
    assert len(bare) == 9 + 15 + 39 + 4185  # dirt, gravel, sand, soil
    assert all(path.startswith("pervious/bare/") for path in bare.classes)


def test_unknown_class_names_the_valid_choices():
    with pytest.raises(ConfigError, match="water.*vegetation"):
        earthlib_library(classes="water")


def test_resampling_a_library_to_its_own_wavelengths_is_the_identity():
    library = earthlib_library()
    same = library.resample(library.wavelengths)
    np.testing.assert_array_equal(same.spectra, library.spectra)
    np.testing.assert_array_equal(same.names, library.names)


def test_earthlib_resampled_between_bands_is_the_mean_of_neighbours():
    native = earthlib_library()
    halfway = earthlib_library([405.0, 2445.0])
    np.testing.assert_allclose(halfway.spectra[:, 0], 0.5 * (native.spectra[:, 0] + native.spectra[:, 1]))
    np.testing.assert_allclose(halfway.spectra[:, 1], 0.5 * (native.spectra[:, -2] + native.spectra[:, -1]))


def test_colour_reflectance_sets_include_a_flat_white_and_dark_black_patch():
    sets = reflectance_sets()
    assert len(sets) == 351 and sets.spectra.shape[1] == 31
    assert sets.spectra.min() >= 0.0 and sets.spectra.max() <= 1.0
    white = sets.spectra[list(sets.names).index("BabelColor Average white 9.5 (.05 D)")]
    black = sets.spectra[list(sets.names).index("BabelColor Average black 2 (1.5 D)")]
    assert white[5:].mean() > 0.85 and white[5:].std() < 0.02  # flat and bright from 450 nm on
    assert black.mean() < 0.05
    assert len(sets.select("training")) == 190 and len(sets.select("skin")) == 30


def test_user_csv_library_loads_with_names_and_sorted_wavelengths(tmp_path):
    path = tmp_path / "lib.csv"
    path.write_text("wavelength_nm,grass,brick\n500,0.1,0.3\n400,0.05,0.2\n600,0.08,0.4\n")
    library = load_library(path)
    np.testing.assert_array_equal(library.wavelengths, [400.0, 500.0, 600.0])
    np.testing.assert_array_equal(library.names, ["grass", "brick"])
    np.testing.assert_allclose(library.spectra, [[0.05, 0.1, 0.08], [0.2, 0.3, 0.4]])
    assert set(library.classes) == {"user"}


def test_user_csv_in_micrometres_without_names(tmp_path):
    path = tmp_path / "lib.csv"
    path.write_text("wavelength_um,a\n0.4,0.5\n0.5,0.7\n")
    np.testing.assert_allclose(load_library(path).wavelengths, [400.0, 500.0])
    headerless = tmp_path / "bare.csv"
    headerless.write_text("400,0.5,0.1\n500,0.7,0.2\n")
    library = load_library(headerless)
    np.testing.assert_array_equal(library.names, ["spectrum_0", "spectrum_1"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("wavelength,a\n400,0.1\n500\n", "row 3 has 1 columns"),
        ("wavelength,a\n400,x\n", "non-numeric"),
        ("wavelength,a\n400,0.1\n400,0.2\n", "duplicate wavelengths"),
        ("wavelength,a\n400,nan\n", "NaN"),
    ],
)
def test_malformed_csv_library_names_the_file(tmp_path, content, message):
    path = tmp_path / "broken.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=f"broken.csv.*{message}"):
        load_library(path)


def test_missing_or_unknown_library_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_library(tmp_path / "absent.sli")
    other = tmp_path / "lib.xlsx"
    other.write_text("x")
    with pytest.raises(DataError, match="unknown spectral library format"):
        load_library(other)


def _write_envi_library(folder, spectra, centres, units):
    data = folder / "mine.sli"
    np.asarray(spectra, dtype="<f4").tofile(data)
    lines = [
        "ENVI",
        f"samples = {spectra.shape[1]}",
        f"lines = {spectra.shape[0]}",
        "bands = 1",
        "header offset = 0",
        "file type = ENVI Spectral Library",
        "data type = 4",
        "interleave = bsq",
        "byte order = 0",
        "spectra names = { leaf , rock }",
        "wavelength = { " + " , ".join(f"{c:g}" for c in centres) + " }",
    ]
    if units:
        lines.append(f"wavelength units = {units}")
    (folder / "mine.hdr").write_text("\n".join(lines) + "\n")
    return data


def test_user_envi_library_in_micrometres_loads(tmp_path):
    spectra = np.array([[0.1, 0.2, 0.5], [0.3, 0.3, 0.35]], dtype=np.float32)
    path = _write_envi_library(tmp_path, spectra, [0.45, 0.55, 0.8], "Micrometers")
    library = load_library(path)
    np.testing.assert_allclose(library.wavelengths, [450.0, 550.0, 800.0])
    np.testing.assert_array_equal(library.names, ["leaf", "rock"])
    np.testing.assert_allclose(library.spectra, spectra, rtol=1e-7)
    assert isinstance(library, SpectralLibrary)


def test_envi_library_without_units_warns_about_the_assumption(tmp_path):
    path = _write_envi_library(tmp_path, np.ones((2, 2), np.float32), [450.0, 550.0], None)
    with pytest.warns(UserWarning, match="assuming nanometers"):
        library = load_library(path)
    np.testing.assert_allclose(library.wavelengths, [450.0, 550.0])


def test_illuminants_follow_the_colour_science_scale():
    assert illuminant_spectrum("D65", [560.0])[0] == pytest.approx(100.0, abs=0.5)
    assert illuminant_spectrum("A", [560.0])[0] == pytest.approx(100.0, abs=0.5)
    # D-series of the nominal CCT 6504 K reproduces the tabulated D65 within 1 %.
    wavelengths = np.arange(400.0, 701.0, 10.0)
    np.testing.assert_allclose(
        illuminant_spectrum("D6504", wavelengths), illuminant_spectrum("D65", wavelengths), rtol=0.01
    )
    # Tungsten rises towards the red, fluorescent lamps have a mercury line at 546 nm.
    tungsten = illuminant_spectrum("A", [450.0, 650.0])
    assert tungsten[1] > 2.5 * tungsten[0]
    fluorescent = illuminant_spectrum("FL2", [540.0, 545.0, 550.0])
    assert fluorescent[1] > 1.4 * max(fluorescent[0], fluorescent[2])


def test_illuminants_beyond_their_table_continue_as_black_body_or_zero():
    daylight = illuminant_spectrum("D65", [780.0, 785.0, 1000.0, 2000.0])
    assert daylight[1] == pytest.approx(daylight[0], rel=0.03)  # continuous at the table's end
    planck = lambda nm: nm**-5.0 / np.expm1(1.4388e7 / (nm * 6504.0))  # noqa: E731
    assert daylight[3] / daylight[2] == pytest.approx(planck(2000.0) / planck(1000.0), rel=1e-9)
    np.testing.assert_array_equal(illuminant_spectrum("FL2", [900.0, 1500.0]), [0.0, 0.0])
    np.testing.assert_array_equal(illuminant_spectrum("E", [300.0, 2000.0]), [100.0, 100.0])


def test_unknown_illuminant_or_cct_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown illuminant 'sunshine'"):
        illuminant_spectrum("sunshine")
    with pytest.raises(ConfigError, match="4000-25000 K"):
        illuminant_spectrum("D3000")


def test_successive_projection_finds_the_pure_pixels_of_a_mixture():
    """Three pure spectra and 200 random convex mixtures of them: the algorithm picks the three pure pixels."""
    rng = np.random.default_rng(0)
    pure = rng.random((3, 20))
    abundances = rng.dirichlet(np.ones(3), size=200) * 0.9 + 0.1 / 3  # no mixture is (nearly) pure
    pixels = np.vstack([abundances @ pure, pure])  # the pure pixels are rows 200, 201, 202
    assert sorted(successive_projection(pixels, 3)) == [200, 201, 202]


def test_training_library_takes_the_endmembers_of_the_cube_with_their_positions():
    rng = np.random.default_rng(1)
    pure = rng.random((2, 5))
    cube = (rng.dirichlet(np.ones(2), size=(4, 6)) * 0.8 + 0.1) @ pure
    cube[2, 3], cube[0, 5] = pure[0], pure[1]
    library = training_library(cube, np.arange(400.0, 450.0, 10.0), 2)
    assert sorted(library.names.tolist()) == ["pixel 0,5", "pixel 2,3"]
    assert set(library.classes.tolist()) == {"training"}
    np.testing.assert_array_equal(np.sort(library.spectra, axis=0), np.sort(pure, axis=0))
    with pytest.raises(ConfigError, match="1 to 24 endmembers"):
        training_library(cube, np.arange(400.0, 450.0, 10.0), 25)
