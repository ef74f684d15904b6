"""Classical fusions (regression, GSA, CNMF) on synthetic pairs whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsinr import metrics
from hsinr.errors import ConfigError
from hsinr.infer import fuse
from hsinr.models import make
from hsinr.models.classical_fusion import root_polynomial_terms
from hsinr.spectral.degradation import band_average_response, simulate_pair

BANDS = 16
NM = np.linspace(400, 700, BANDS)
SRF = band_average_response(NM, [450, 550, 650], [100, 100, 100])


def abundance_maps(size: int, count: int, seed: int) -> np.ndarray:
    """``(size, size, count)`` sharp-edged abundances summing to 1 (blocks of 3 px: finer than the x4 LR grid)."""
    rng = np.random.default_rng(seed)
    blocks = rng.random((count, size // 3 + 1, size // 3 + 1)) ** 3
    maps = np.kron(blocks, np.ones((3, 3)))[:, :size, :size].transpose(1, 2, 0)
    return maps / maps.sum(axis=2, keepdims=True)


def mixture(size: int, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + 100)
    spectra = 0.1 + 0.8 * rng.random((count, BANDS))
    return (abundance_maps(size, count, seed) @ spectra).astype(np.float64)


def fused(name: str, cube: np.ndarray, **args) -> np.ndarray:
    lr, msi = simulate_pair(cube, SRF, 4)
    model = make({"name": name, "args": {"scale": 4, "hsi_bands": BANDS, "msi_bands": 3, **args}})
    return fuse(lr, msi, model, tile=16, overlap=4)  # tileable = False: one whole-image pass whatever the tile


def bicubic_psnr(cube: np.ndarray) -> float:
    return metrics.psnr(cube, fused("bicubic_fusion", cube))


def test_root_polynomial_terms_count_as_finlayson():
    assert len(root_polynomial_terms(3, 1)) == 3
    assert len(root_polynomial_terms(3, 2)) == 6 and len(root_polynomial_terms(3, 3)) == 13
    assert (1, 1, 1) in root_polynomial_terms(3, 3) and (2, 0, 0) not in root_polynomial_terms(3, 2)


def test_regression_fusion_is_exact_when_the_cube_is_a_linear_function_of_the_msi():
    # three endmembers and three MSI bands: cube = msi @ Q exactly, so the degree-1 map and a zero residual are exact
    cube = mixture(48, 3)
    out = fused("regression_fusion", cube, degree=1, ridge=0.0)
    np.testing.assert_allclose(out, cube, atol=2e-4)
    assert metrics.psnr(cube, fused("regression_fusion", cube, degree=2)) > bicubic_psnr(cube) + 15


def test_gsa_is_exact_for_one_spectrum_times_an_intensity_map():
    rng = np.random.default_rng(3)
    intensity = 0.2 + 0.8 * np.kron(rng.random((17, 17)), np.ones((3, 3)))[:48, :48]
    spectrum = 0.2 + 0.7 * rng.random(BANDS)
    cube = intensity[..., None] * spectrum
    out = fused("gsa_fusion", cube)
    np.testing.assert_allclose(out, cube, atol=1e-4)
    assert bicubic_psnr(cube) < 35


def test_cnmf_recovers_a_four_material_scene_far_better_than_bicubic():
    # four pure materials in 6-px blocks not aligned with the x4 grid: pure LR pixels exist (CNMF's endmembers),
    # and the HR-MSI tells which material each HR pixel holds
    rng = np.random.default_rng(5)
    labels = np.kron(rng.integers(0, 4, (9, 9)), np.ones((6, 6), int))[1:49, 3:51]
    cube = np.eye(4)[labels] @ (0.1 + 0.8 * rng.random((4, BANDS)))
    out = fused("cnmf_fusion", cube, endmembers=4, outer_iterations=5, inner_iterations=200)
    assert out.shape == cube.shape and np.isfinite(out).all()
    assert metrics.psnr(cube, out) > bicubic_psnr(cube) + 7


def test_classical_fusions_refuse_bad_arguments():
    with pytest.raises(ConfigError, match="out_bands"):
        make({"name": "gsa_fusion", "args": {"hsi_bands": 5, "out_bands": 4}})
    with pytest.raises(ConfigError, match="degree"):
        make({"name": "regression_fusion", "args": {"degree": 0}})
    with pytest.raises(ConfigError, match="endmembers"):
        make({"name": "cnmf_fusion", "args": {"endmembers": 0}})
    model = make({"name": "regression_fusion", "args": {"scale": 4, "hsi_bands": BANDS}})
    assert model.closed_form and not model.fits_data and not model.tileable and not list(model.parameters())
    out = model(torch.rand(2, BANDS, 4, 4), torch.rand(2, 3, 16, 16))
    assert out.shape == (2, BANDS, 16, 16) and out.dtype == torch.float32


def test_inf3_with_a_regression_prior_starts_at_the_classical_fusion_and_learns_a_residual():
    torch.manual_seed(0)
    tiny = {
        "spectral_features": 8,
        "spatial_features": 8,
        "fused_features": 8,
        "encoder_width": 8,
        "encoder_layers": 1,
        "mlp_hidden": [16],
    }
    model = make({"name": "inf3", "args": {"scale": 4, "hsi_bands": BANDS, "prior": "regression", **tiny}})
    assert not model.tileable
    lr, msi = simulate_pair(mixture(32, 5, seed=2), SRF, 4)
    lr_t = torch.from_numpy(lr.transpose(2, 0, 1))[None]
    msi_t = torch.from_numpy(msi.transpose(2, 0, 1))[None]
    classical = make({"name": "regression_fusion", "args": {"scale": 4, "hsi_bands": BANDS}})
    torch.testing.assert_close(model(lr_t, msi_t), classical(lr_t, msi_t))
    model(lr_t, msi_t).sum().backward()
    assert model.decoder[-1].weight.grad.abs().sum() > 0  # the zero layer still learns
    # prior_window: the prior is the windowed fusion (windows every prior_window / 4 px)
    windowed = make(
        {"name": "inf3", "args": {"scale": 4, "hsi_bands": BANDS, "prior": "regression", "prior_window": 16, **tiny}}
    )
    local = make({"name": "regression_fusion", "args": {"scale": 4, "hsi_bands": BANDS, "window": 16, "stride": 4}})
    torch.testing.assert_close(windowed(lr_t, msi_t), local(lr_t, msi_t))
    assert not torch.allclose(local(lr_t, msi_t), classical(lr_t, msi_t))
    with pytest.raises(ConfigError, match="prior"):
        make({"name": "inf3", "args": {"prior": "nearest"}})


def test_degrade_then_fuse_end_to_end(tmp_path, capsys):
    """hsinr degrade writes the protocol's pair (16-bit PNG MSI), hsinr fuse reads it back, hsinr.fuse agrees."""
    import scipy.io

    import hsinr
    from hsinr.checkpoint import save_checkpoint
    from hsinr.cli import main
    from hsinr.cube import Cube
    from hsinr.io import read_cube, read_rgb, write_cube

    cube = mixture(50, 3, seed=4)  # 50 px: cropped to 48 by the command
    write_cube(tmp_path / "gt.npy", Cube(cube, NM))
    scipy.io.savemat(tmp_path / "srf.mat", {"P": SRF})
    args = ["degrade", str(tmp_path / "gt.npy"), "--scale", "4", "--lr", str(tmp_path / "lr.npy")]
    assert main([*args, "--response", "band_average", "--msi", str(tmp_path / "msi.png")]) == 2
    assert "only 3 fit an image" in capsys.readouterr().err  # Landsat bands inside 400-700 nm: 4 bands
    assert not (tmp_path / "lr.npy").exists()  # neither output is written when one of them cannot be
    assert main([*args[:-1], str(tmp_path / "lr.xyz"), "--response", "band_average", "--msi", "m.npy"]) == 2
    assert "lr.xyz: cannot write a cube file with extension '.xyz'" in capsys.readouterr().err
    assert main([*args, "--response", "band_average", "--msi", str(tmp_path / "msi4.npy")]) == 0
    assert read_cube(tmp_path / "msi4.npy").shape == (48, 48, 4)
    assert main([*args, "--response", str(tmp_path / "srf.mat"), "--msi", str(tmp_path / "msi.png")]) == 0
    lr_expected, msi_expected = simulate_pair(cube[:48, :48], SRF, 4)
    lr = read_cube(tmp_path / "lr.npy")
    np.testing.assert_allclose(lr.data, lr_expected, atol=1e-6)
    np.testing.assert_allclose(lr.wavelengths, NM)
    np.testing.assert_allclose(read_rgb(tmp_path / "msi.png"), msi_expected, atol=1 / 65535)

    spec_model = {"name": "regression_fusion", "args": {"scale": 4, "hsi_bands": BANDS, "degree": 1}}
    save_checkpoint(tmp_path / "reg.pt", make(spec_model), spec_model, {"task": "fusion"})
    assert (
        main(
            [
                "fuse",
                "--hsi",
                str(tmp_path / "lr.npy"),
                "--msi",
                str(tmp_path / "msi.png"),
                "--model",
                str(tmp_path / "reg.pt"),
                "-o",
                str(tmp_path / "out.npy"),
            ]
        )
        == 0
    )
    fuse_args = ["fuse", "--hsi", str(tmp_path / "lr.npy"), "--msi", str(tmp_path / "msi.png")]
    assert main([*fuse_args, "--model", str(tmp_path / "reg.pt"), "-o", str(tmp_path / "out.xyz")]) == 2
    assert "out.xyz: cannot write a cube file" in capsys.readouterr().err  # refused before fusing
    out = read_cube(tmp_path / "out.npy").data
    assert metrics.psnr(cube[:48, :48], out) > 60  # exact up to the 16-bit quantisation of the MSI
    api = hsinr.fuse(lr.data, read_rgb(tmp_path / "msi.png"), str(tmp_path / "reg.pt"))
    np.testing.assert_allclose(api, out, atol=1e-6)


def test_local_regression_fusion_is_one_window_on_small_images_and_exact_where_one_map_is():
    from hsinr.models.classical_fusion import local_regression_fusion, regression_fusion

    cube = mixture(48, 3)
    lr, msi = (torch.from_numpy(a.transpose(2, 0, 1))[None] for a in simulate_pair(cube, SRF, 4))
    # an image no larger than the window is one window: exactly the per-image fusion
    torch.testing.assert_close(local_regression_fusion(lr, msi, 4, 48, 12), regression_fusion(lr, msi, 4))
    # a cube that is one linear function of the MSI everywhere: every window's map is exact, so is their blend
    out = fused("regression_fusion", cube, degree=1, ridge=0.0, window=16, stride=8)
    np.testing.assert_allclose(out, cube, atol=2e-4)


def test_local_regression_fusion_follows_materials_that_one_map_per_image_cannot():
    # left and right halves: three endmembers each, six in all, so no single map from 3 MSI bands explains the
    # image, while a 16-px window lies (mostly) inside one half, where a map is exact
    left, right = mixture(48, 3, seed=1), mixture(48, 3, seed=2)
    cube = np.concatenate([left[:, :24], right[:, 24:]], axis=1)
    whole = metrics.psnr(cube, fused("regression_fusion", cube, degree=1))
    local = metrics.psnr(cube, fused("regression_fusion", cube, degree=1, window=16, stride=4))
    assert local > whole + 5, (local, whole)


@pytest.mark.parametrize("window, stride", [(18, 4), (16, 6), (16, 0), (8, 16)])
def test_regression_windows_must_be_multiples_of_the_scale(window, stride):
    with pytest.raises(ConfigError, match="multiples of the scale 4"):
        make({"name": "regression_fusion", "args": {"scale": 4, "window": window, "stride": stride}})
