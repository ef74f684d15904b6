"""One band-resampling policy (no extrapolation), one nearest_bands, one false-colour preview."""

from __future__ import annotations

import numpy as np
import pytest

from hsinr.data import remote
from hsinr.errors import DataError
from hsinr.report import figures
from hsinr.report.figures import false_colour, false_colour_rgb, stretch_for_display
from hsinr.spectral import CameraResponse, nearest_bands, resample_bands, resample_spectra
from hsinr.spectral.library import SpectralLibrary, resample

SRC = np.array([400.0, 410.0, 430.0])
VALUES = np.array([[1.0, 3.0, 7.0], [0.0, 2.0, -2.0]])


def test_resample_spectra_is_linear_inside_and_exact_on_the_samples():
    out = resample_spectra(VALUES, SRC, [400.0, 405.0, 420.0, 430.0])
    np.testing.assert_allclose(out, [[1.0, 2.0, 5.0, 7.0], [0.0, 1.0, 0.0, -2.0]])
    np.testing.assert_array_equal(resample_spectra(VALUES, SRC, SRC), VALUES)


@pytest.mark.parametrize("target", [399.0, 430.5])
def test_resample_spectra_never_extrapolates(target):
    with pytest.raises(DataError, match="outside the measured range 400-430 nm"):
        resample_spectra(VALUES, SRC, [410.0, target])
    with pytest.raises(DataError, match="outside"):
        resample_bands(np.ones((1, 1, 3)), SRC, [target])


def test_resample_spectra_checks_its_inputs():
    with pytest.raises(DataError, match="strictly increasing"):
        resample_spectra(VALUES, [400.0, 420.0, 410.0], [410.0])
    with pytest.raises(DataError, match="do not have 3 bands"):
        resample_spectra(VALUES[:, :2], SRC, [410.0])


def test_owners_pad_explicitly_and_agree_inside_the_range():
    inside = np.array([402.0, 415.0, 430.0])
    expected = resample_spectra(VALUES, SRC, inside)
    # the cube resampler, a camera response and a spectral library give the same numbers inside the range ...
    np.testing.assert_allclose(resample_bands(VALUES[None], SRC, inside)[0], expected, rtol=1e-6)
    response = CameraResponse(np.vstack([VALUES, VALUES[:1]]), SRC, "toy")
    np.testing.assert_allclose(response.resampled(inside).srf[:2], expected)
    np.testing.assert_allclose(resample(VALUES, SRC, inside), expected)
    # ... and differ outside only by their stated padding: a response is zero there, a library holds its end values
    padded = np.array([390.0, 402.0, 415.0, 440.0])
    np.testing.assert_allclose(response.resampled(padded).srf[:2], np.c_[[0.0, 0.0], expected[:, :2], [0.0, 0.0]])
    np.testing.assert_allclose(resample(VALUES, SRC, padded), np.c_[VALUES[:, :1], expected[:, :2], VALUES[:, 2:]])
    library = SpectralLibrary(VALUES, SRC, ["a", "b"], ["x", "y"]).resample(padded)
    np.testing.assert_allclose(library.spectra, resample(VALUES, SRC, padded))


def test_one_nearest_bands_with_a_distance_limit():
    centres = np.array([400.0, 450.0, 500.0, 550.0])
    assert nearest_bands(centres, [449.0, 530.0, 400.0]).tolist() == [1, 3, 0]
    with pytest.raises(DataError, match="no band within 25 nm of \\[600.0\\] nm"):
        nearest_bands(centres, [600.0])
    assert nearest_bands(centres, [600.0], max_distance_nm=60.0).tolist() == [3]
    assert remote.nearest_bands is nearest_bands and figures.nearest_bands is nearest_bands


def test_false_colour_of_a_flat_spectrum_is_grey_and_scaled_by_the_99th_percentile():
    wavelengths = np.linspace(400, 700, 31)
    cube = np.full((4, 5, 31), 0.25, np.float32)
    picked = false_colour_rgb(cube, wavelengths=wavelengths)
    np.testing.assert_array_equal(picked, 0.25)
    np.testing.assert_array_equal(false_colour(cube, wavelengths=wavelengths), 1.0)  # 0.25 / p99 (= 0.25)
    srf = np.full((3, 31), 1 / 31)
    np.testing.assert_allclose(false_colour_rgb(cube, srf), 0.25, rtol=1e-6)
    ramp = np.arange(31, dtype=np.float32)[None, None, :].repeat(2, axis=0)
    # without wavelengths: last, middle and first band
    assert false_colour_rgb(ramp)[0, 0].tolist() == [30.0, 15.0, 0.0]


def test_stretch_for_display_global_and_per_channel():
    rgb = np.stack([np.linspace(0, 1, 101), np.linspace(0, 2, 101), np.linspace(1, 3, 101)], axis=-1)[None]
    glob = stretch_for_display(rgb, (0.0, 100.0))
    np.testing.assert_allclose(glob[0, -1], [1 / 3, 2 / 3, 1.0], rtol=1e-6)  # one scale: the balance is kept
    each = stretch_for_display(rgb, (2.0, 98.0), per_channel=True)  # the synthesis figures' 2-98 % stretch
    np.testing.assert_allclose(each[0, 50], [0.5, 0.5, 0.5], rtol=1e-5)  # each channel stretched on its own
    assert each[0, 0].tolist() == [0.0, 0.0, 0.0] and each[0, -1].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(stretch_for_display(np.zeros((2, 2, 3))), 0.0)
