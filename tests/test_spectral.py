"""Camera responses, RGB rendering and band resampling: physical properties and file formats."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from hsinr.cube import Cube, default_wavelengths
from hsinr.errors import DataError
from hsinr.spectral import (
    CameraResponse,
    builtin_response,
    list_builtin_responses,
    load_response,
    render_rgb,
    render_rgb_torch,
    resample_bands,
    resolve_response,
)

SHARED_SRF = Path(__file__).resolve().parents[2] / "shared" / "data" / "srf"
NM = default_wavelengths()


def random_cube(seed, shape=(6, 5, 31)):
    return np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype(np.float32)


def random_response(seed, bands=31):
    return CameraResponse(np.random.default_rng(seed).uniform(0.0, 1.0, (3, bands)), default_wavelengths(bands), "rnd")


# --- responses -------------------------------------------------------------------------------------------------


def test_cie1931_y_bar_peaks_near_555_nm():
    response = builtin_response("cie1931_xyz", np.arange(400.0, 701.0), normalize="none")
    assert abs(response.wavelengths[np.argmax(response.srf[1])] - 555.0) <= 2.0
    assert response.srf[1].max() == pytest.approx(1.0, abs=1e-3)  # y-bar is 1 at its peak by definition


def test_every_builtin_is_sum_normalised_and_non_negative():
    names = list_builtin_responses()
    assert {"cie1931_xyz", "cie1964_xyz", "srgb", "nikon_5100_npl"} <= set(names)
    for name in names:
        response = builtin_response(name)
        assert response.srf.shape == (3, 31)
        np.testing.assert_allclose(response.srf.sum(axis=1), 1.0)
        assert response.srf.min() >= 0.0
    assert not np.allclose(builtin_response("cie1931_xyz").srf, builtin_response("cie1964_xyz").srf)


def test_srgb_response_orders_channels_by_wavelength():
    response = builtin_response("srgb", np.arange(400.0, 701.0))
    red, green, blue = (response.wavelengths[np.argmax(row)] for row in response.srf)
    assert blue < green < red
    assert 590 <= red <= 620 and 520 <= green <= 560 and 430 <= blue <= 470


def test_unknown_builtin_names_the_choices():
    with pytest.raises(DataError, match="cie1931_xyz"):
        builtin_response("no_such_camera")


def test_resampling_to_own_wavelengths_is_identity():
    response = random_response(0)
    np.testing.assert_array_equal(response.resampled(response.wavelengths).srf, response.srf)


def test_resampling_interpolates_linearly_and_is_zero_outside():
    response = CameraResponse(np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 2.0]]), [500.0, 520.0], "two")
    resampled = response.resampled([500.0, 505.0, 510.0, 530.0])
    np.testing.assert_allclose(resampled.srf, [[0.0, 0.25, 0.5, 0.0], [1.0, 1.5, 2.0, 0.0], [2.0, 2.0, 2.0, 0.0]])
    with pytest.raises(DataError, match="outside"):
        response.resampled([450.0, 460.0, 510.0])


def test_normalisations():
    response = random_response(1)
    np.testing.assert_allclose(response.normalized("sum").srf.sum(axis=1), 1.0)
    np.testing.assert_allclose(response.normalized("max").srf.max(axis=1), 1.0)
    np.testing.assert_array_equal(response.normalized("none").srf, response.srf)
    dead = CameraResponse(np.vstack([np.ones(31), np.zeros(31), np.ones(31)]), NM, "dead")
    with pytest.raises(DataError, match="G"):
        dead.normalized("sum")
    with pytest.raises(DataError):
        response.normalized("l2")


def test_response_shape_is_checked():
    with pytest.raises(DataError):
        CameraResponse(np.ones((4, 31)), NM)
    with pytest.raises(DataError):
        CameraResponse(np.ones((3, 30)), NM)


# --- response files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [True, False])
def test_load_csv(tmp_path, header):
    srf = random_response(2).srf
    path = tmp_path / "camera.csv"
    lines = ["wavelength,r,g,b"] if header else []
    lines += [f"{nm},{r},{g},{b}" for nm, r, g, b in zip(NM, *srf, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    loaded = load_response(path)
    np.testing.assert_allclose(loaded.srf, srf)
    np.testing.assert_allclose(loaded.wavelengths, NM)
    half = load_response(path, wavelengths=[405.0])
    np.testing.assert_allclose(half.srf[:, 0], (srf[:, 0] + srf[:, 1]) / 2)


@pytest.mark.parametrize("transpose", [False, True])
def test_load_npy_in_either_orientation(tmp_path, transpose):
    srf = random_response(3).srf
    np.save(tmp_path / "camera.npy", srf.T if transpose else srf)
    np.testing.assert_allclose(load_response(tmp_path / "camera.npy").srf, srf)


def test_load_npy_band_count_must_match_wavelengths(tmp_path):
    np.save(tmp_path / "camera.npy", np.ones((3, 16)))
    with pytest.raises(DataError, match="16 bands"):
        load_response(tmp_path / "camera.npy")
    loaded = load_response(tmp_path / "camera.npy", wavelengths=np.linspace(400, 700, 16))
    assert loaded.wavelengths[1] == pytest.approx(420.0)


def test_load_mat_prefers_p_then_the_only_response_array(tmp_path):
    srf = random_response(4).srf
    scipy.io.savemat(tmp_path / "with_p.mat", {"P": srf, "P_20N": srf + 1, "other": np.ones((5, 5))})
    np.testing.assert_allclose(load_response(tmp_path / "with_p.mat").srf, srf)
    np.testing.assert_allclose(load_response(tmp_path / "with_p.mat", key="P_20N").srf, srf + 1)
    scipy.io.savemat(tmp_path / "single.mat", {"R": srf.T, "note": np.ones((5, 5))})
    np.testing.assert_allclose(load_response(tmp_path / "single.mat").srf, srf)
    scipy.io.savemat(tmp_path / "ambiguous.mat", {"A": srf, "B": srf})
    with pytest.raises(DataError, match="ambiguous.mat"):
        load_response(tmp_path / "ambiguous.mat")


def test_load_mat_v73_hdf5(tmp_path):
    srf = random_response(12).srf
    with h5py.File(tmp_path / "v73.mat", "w") as handle:
        handle["P"] = srf.T  # MATLAB v7.3 stores arrays transposed
    np.testing.assert_allclose(load_response(tmp_path / "v73.mat").srf, srf)
    (tmp_path / "broken.mat").write_bytes(b"not a mat file")
    with pytest.raises(DataError, match="broken.mat"):
        load_response(tmp_path / "broken.mat")


def test_load_npz_ntire_style_with_bands(tmp_path):
    srf = random_response(5, bands=16).srf
    bands = np.arange(400, 701, 20, dtype=np.uint16)[None, :]
    np.savez(tmp_path / "ntire.npz", filters=srf.T, bands=bands)
    loaded = load_response(tmp_path / "ntire.npz", wavelengths=[400.0, 410.0])
    np.testing.assert_allclose(loaded.srf, np.stack([srf[:, 0], (srf[:, 0] + srf[:, 1]) / 2], axis=1))


def test_load_npz_camspec_style_selects_a_camera(tmp_path):
    srf = np.random.default_rng(6).uniform(0.0, 1.0, (2, 3, 33))
    np.savez(
        tmp_path / "cams.npz", srf=srf, names=np.array(["Canon 5D", "Nikon D700"]), wavelengths=np.arange(400, 721, 10)
    )
    path = tmp_path / "cams.npz"
    loaded = load_response(path, wavelengths=NM, key="nikon d700")
    np.testing.assert_allclose(loaded.srf, srf[1, :, :31])
    with pytest.raises(DataError, match="Canon 5D"):
        load_response(path)
    with pytest.raises(DataError, match="no camera"):
        load_response(path, key="Sony")
    np.testing.assert_allclose(resolve_response(f"{path}:Canon 5D", NM).srf, srf[0, :, :31])


def test_resolve_response_builtin_path_and_errors(tmp_path):
    np.testing.assert_allclose(resolve_response("srgb").srf, builtin_response("srgb").srf)
    np.save(tmp_path / "camera.npy", random_response(7).srf)
    assert resolve_response(str(tmp_path / "camera.npy")).srf.shape == (3, 31)
    with pytest.raises(DataError, match="neither a file nor a builtin"):
        resolve_response(str(tmp_path / "missing.npy"))
    with pytest.raises(DataError, match="not found"):
        load_response(tmp_path / "missing.npy")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)))
    with pytest.raises(DataError, match="binary.csv"):
        load_response(tmp_path / "binary.csv")
    (tmp_path / "camera.txt").write_text("1 2 3")
    with pytest.raises(DataError, match="unknown camera response format"):
        load_response(tmp_path / "camera.txt")


def test_resolve_response_reads_a_file_without_importing_colour(tmp_path):
    import subprocess
    import sys

    np.save(tmp_path / "camera.npy", random_response(7).srf)
    check = (
        "import sys; from hsinr.spectral import resolve_response; "
        f"assert resolve_response({str(tmp_path / 'camera.npy')!r}).srf.shape == (3, 31); "
        "assert 'colour' not in sys.modules, 'colour was imported'"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]


def test_shared_nikon_d700_cave_rows_sum_to_one():
    path = SHARED_SRF / "nikon_d700_cave.mat"
    if not path.is_file():
        pytest.skip(f"shared data not available ({path})")
    response = load_response(path)
    assert response.srf.shape == (3, 31)
    np.testing.assert_allclose(response.srf.sum(axis=1), 1.0, atol=1e-6)
    flat = render_rgb(np.full((2, 2, 31), 0.4, np.float32), response)
    np.testing.assert_allclose(flat, 0.4, atol=1e-6)


def test_shared_camspec_cameras_load_max_normalised():
    path = SHARED_SRF / "camspec_28.npz"
    if not path.is_file():
        pytest.skip(f"shared data not available ({path})")
    with np.load(path) as archive:
        names = [str(name) for name in archive["names"]]
    assert len(names) == 28
    for name in names:
        response = resolve_response(f"{path}:{name}", NM)
        assert response.srf.shape == (3, 31) and response.srf.min() >= 0.0
    assert load_response(path, key="Nikon D700").srf.max() == pytest.approx(1.0)


# --- rendering ---------------------------------------------------------------------------------------------------


def test_rendering_is_linear():
    x, y, srf = random_cube(0), random_cube(1), random_response(8).srf
    np.testing.assert_allclose(
        render_rgb(2.5 * x - 0.7 * y, srf), 2.5 * render_rgb(x, srf) - 0.7 * render_rgb(y, srf), atol=1e-5
    )


def test_rendering_is_eq4_and_accepts_cubes():
    cube, response = random_cube(2), random_response(9)
    expected = np.einsum("hwc,kc->hwk", cube.astype(np.float64), response.srf)
    rendered = render_rgb(Cube(cube, NM), response)
    assert rendered.dtype == np.float32 and rendered.shape == (6, 5, 3)
    np.testing.assert_allclose(rendered, expected, rtol=1e-6)


def test_flat_spectrum_renders_grey_under_sum_normalised_responses():
    flat = np.full((3, 4, 31), 0.37, np.float32)
    for name in ("cie1931_xyz", "srgb", "nikon_5100_npl"):
        np.testing.assert_allclose(render_rgb(flat, builtin_response(name)), 0.37, atol=1e-6)


def test_mismatched_response_raises():
    with pytest.raises(DataError, match="31 bands"):
        render_rgb(random_cube(3), np.ones((3, 16)))
    shifted = CameraResponse(np.ones((3, 31)), NM + 5.0, "shifted")
    with pytest.raises(DataError, match="resample"):
        render_rgb(Cube(random_cube(3), NM), shifted)


def test_white_balance_makes_the_mean_spectrum_grey():
    reddish = np.linspace(0.2, 0.9, 31, dtype=np.float32)
    cube = np.broadcast_to(reddish, (4, 4, 31)).copy()
    response = builtin_response("nikon_5100_npl")
    plain = render_rgb(cube, response)
    assert plain[0, 0, 0] > 1.2 * plain[0, 0, 2]
    balanced = render_rgb(cube, response, white_balance=True)
    np.testing.assert_allclose(balanced, plain[0, 0, 1], rtol=1e-5)


def test_exposure_gain_and_percentile():
    cube, srf = random_cube(4), random_response(10).srf
    plain = render_rgb(cube, srf)
    np.testing.assert_allclose(render_rgb(cube, srf, exposure=0.5), plain / 2, rtol=1e-6)
    assert render_rgb(cube, srf, exposure="p100").max() == pytest.approx(1.0)
    with pytest.raises(DataError):
        render_rgb(cube, srf, exposure="bright")


def test_noise_is_seeded():
    cube, srf = random_cube(5), builtin_response("srgb").srf
    options = dict(shot_noise_photons=500.0, read_noise=0.01)
    first = render_rgb(cube, srf, seed=3, **options)
    np.testing.assert_array_equal(first, render_rgb(cube, srf, seed=3, **options))
    assert not np.array_equal(first, render_rgb(cube, srf, seed=4, **options))


def test_noise_statistics_and_clipping():
    srf = builtin_response("srgb").srf
    cube = np.full((200, 200, 31), 0.25, np.float32)
    shot = render_rgb(cube, srf, shot_noise_photons=1000.0, seed=1)
    assert shot.mean() == pytest.approx(0.25, abs=2e-3)
    assert shot.std() == pytest.approx(np.sqrt(0.25 / 1000.0), rel=0.05)  # Poisson: variance = mean / photons
    read = render_rgb(cube, srf, read_noise=0.02, seed=1)
    assert read.std() == pytest.approx(0.02, rel=0.05)
    saturated = render_rgb(8.0 * cube, srf, read_noise=0.02)
    assert saturated.max() == 1.0 and (saturated == 1.0).mean() > 0.99
    assert render_rgb(8.0 * cube, srf).max() == pytest.approx(2.0)  # plain rendering is not clipped: 8 * 0.25


def test_jpeg_returns_eight_bit_values_close_to_the_input():
    rows, columns = np.meshgrid(np.linspace(0.1, 0.9, 32), np.linspace(0.2, 0.6, 32), indexing="ij")
    cube = (rows[..., None] * np.linspace(1.0, 0.5, 31) + columns[..., None] * np.linspace(0.0, 0.4, 31)) / 1.5
    srf = builtin_response("srgb").srf
    clean = render_rgb(cube, srf)
    compressed = render_rgb(cube, srf, jpeg_quality=90)
    codes = compressed * 255.0
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-4)
    assert np.abs(compressed - clean).max() < 0.03
    assert not np.array_equal(compressed, np.round(clean * 255) / 255)


def test_torch_rendering_matches_numpy_and_has_gradients():
    cube, srf = random_cube(7), random_response(11)
    batch = torch.from_numpy(cube).permute(2, 0, 1)[None].double().requires_grad_(True)
    rendered = render_rgb_torch(batch, srf)
    assert rendered.shape == (1, 3, 6, 5)
    np.testing.assert_allclose(rendered[0].permute(1, 2, 0).detach().numpy(), render_rgb(cube, srf), rtol=1e-6)
    rendered.sum().backward()
    np.testing.assert_allclose(batch.grad[0, :, 0, 0].numpy(), srf.srf.sum(axis=0))


# --- band resampling -------------------------------------------------------------------------------------------


def test_resample_bands_is_linear_interpolation():
    cube = np.broadcast_to(NM.astype(np.float32) / 1000.0, (2, 3, 31)).copy()
    target = np.array([400.0, 404.0, 555.5, 700.0])
    resampled = resample_bands(cube, NM, target)
    assert resampled.shape == (2, 3, 4) and resampled.dtype == np.float32
    np.testing.assert_allclose(resampled[1, 2], target / 1000.0, rtol=1e-6)
    np.testing.assert_array_equal(resample_bands(cube, NM, NM), cube)


def test_resample_bands_refuses_to_extrapolate():
    with pytest.raises(DataError, match="outside"):
        resample_bands(random_cube(8), NM, [390.0, 500.0])
    with pytest.raises(DataError):
        resample_bands(random_cube(8), NM[:30], NM)
