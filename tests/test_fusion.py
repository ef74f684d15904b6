"""Fusion (INF³ paper): INFN shapes and weights, the simulation protocol, datasets, tiled fusion, baselines, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hsinr.cli import main
from hsinr.data.fusion import FusionFullDataset, FusionPatchDataset
from hsinr.errors import ConfigError, DataError
from hsinr.infer import fuse
from hsinr.models import make
from hsinr.models.inf3 import area_weights, axis_neighbours, inr_cs_weights, pixel_centres
from hsinr.spectral import render_rgb
from hsinr.spectral.degradation import band_average_response, blur_downsample, gaussian_kernel, simulate_pair

TINY = {
    "spectral_features": 8,
    "spatial_features": 8,
    "fused_features": 8,
    "encoder_width": 8,
    "encoder_layers": 1,
    "mlp_hidden": [16],
}
SWITCHES = [
    {},
    {"weights": "area"},
    {"weights": "learned"},
    {"lr_hf": False},
    {"hr_hf": False},
    {"lr_hf": False, "hr_hf": False},
    {"relative_coords": False},
    {"upsample": "bilinear"},
    {"upsample": "bicubic"},
    {"upsample": "pixelshuffle"},
    {"activation": "leaky_relu"},
]


def tiny_inf3(scale: int = 4, bands: int = 31, **switches) -> torch.nn.Module:
    torch.manual_seed(0)
    return make({"name": "inf3", "args": {"scale": scale, "hsi_bands": bands, **TINY, **switches}})


def synthetic_cube(size: int, bands: int = 31, seed: int = 0) -> np.ndarray:
    """Three Gaussian-bump spectra mixed by blocky abundance maps: sharp edges plus smooth spectra, in [0, 1]."""
    rng = np.random.default_rng(seed)
    nm = np.linspace(400, 700, bands)
    spectra = np.stack([0.2 + 0.7 * np.exp(-((nm - c) ** 2) / (2 * 40.0**2)) for c in (450, 550, 650)])
    blocks = rng.random((3, size // 8, size // 8))
    abundance = np.kron(blocks, np.ones((8, 8)))[:, :size, :size]
    abundance /= abundance.sum(axis=0, keepdims=True)
    return np.einsum("khw,kc->hwc", abundance, spectra).astype(np.float32)


def test_pixel_centres_follow_eq2():
    assert torch.allclose(pixel_centres(4), torch.tensor([-0.75, -0.25, 0.25, 0.75]))


def test_axis_neighbours_interior_and_border():
    rows = axis_neighbours(16, 4)
    # HR pixel 5 sits at u = 5.5/4 - 0.5 = 0.875 LR pixels: neighbours 0 and 1, nearest (containing) LR pixel 1.
    assert (int(rows.index[0][5]), int(rows.index[1][5]), int(rows.nearest[5])) == (0, 1, 1)
    assert rows.offset[0][5].item() == pytest.approx(0.875) and rows.offset[1][5].item() == pytest.approx(-0.125)
    # HR pixel 0 at u = -0.375: both neighbours clamp to LR pixel 0.
    assert (int(rows.index[0][0]), int(rows.index[1][0])) == (0, 0)
    assert rows.offset[0][0].item() == pytest.approx(-0.375)


@pytest.mark.parametrize("scale", [4, 8])
@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default")
def test_inf3_output_shape(scale, switches):
    model = tiny_inf3(scale, bands=5, **switches)
    lr, msi = torch.rand(2, 5, 3, 4), torch.rand(2, 3, 3 * scale, 4 * scale)
    out = model(lr, msi)
    assert out.shape == (2, 5, 3 * scale, 4 * scale)
    assert torch.isfinite(out).all()
    assert model.input_keys == ("lr_hsi", "hr_msi") and model.out_bands == 5


def test_inf3_rejects_bad_sizes_and_options():
    model = tiny_inf3(4, bands=5)
    with pytest.raises(DataError, match="scale 4"):
        model(torch.rand(1, 5, 3, 3), torch.rand(1, 3, 13, 12))
    with pytest.raises(ConfigError, match="weights"):
        make({"name": "inf3", "args": {"weights": "nearest"}})
    with pytest.raises(ConfigError, match="belong to INF"):
        make({"name": "inf3", "args": {"upsample": "bilinear", "weights": "area"}})


def test_a_leaky_activation_keeps_a_gradient_where_dead_relus_have_none():
    """With every hidden unit of the decoder pushed below zero (a "dead" decoder), ReLU passes no gradient to the
    encoders, so training cannot leave the long skip; the leaky activation does. Unknown names are refused."""
    gradients = {}
    for activation in ("relu", "leaky_relu"):
        model = tiny_inf3(4, bands=5, activation=activation)
        with torch.no_grad():
            model.decoder[0].bias.fill_(-100.0)
        model(torch.rand(1, 5, 4, 4), torch.rand(1, 3, 16, 16)).sum().backward()
        gradients[activation] = sum(float(p.grad.abs().sum()) for p in model.spatial.parameters())
    assert gradients["relu"] == 0.0 and gradients["leaky_relu"] > 0.0
    with pytest.raises(ConfigError, match="activation"):
        make({"name": "inf3", "args": {"activation": "gelu"}})


def test_inr_cs_weights_hand_computed():
    # ||a|| ||b|| cos(a, b) = <a, b>: anchor (2, 0) against (3, 4), (0, 1), (-1, 0), (2, 0) gives 6, 0, -2, 4.
    anchor = torch.tensor([[2.0, 0.0]])
    neighbours = [
        torch.tensor([[3.0, 4.0]]),
        torch.tensor([[0.0, 1.0]]),
        torch.tensor([[-1.0, 0.0]]),
        torch.tensor([[2.0, 0.0]]),
    ]
    weights = inr_cs_weights(anchor, neighbours, dim=1)[:, 0]
    exps = [math.exp(6), math.exp(0), math.exp(-2), math.exp(4)]
    expected = torch.tensor([e / sum(exps) for e in exps])
    assert torch.allclose(weights, expected, atol=1e-6)
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_inr_cs_weights_sum_to_one_on_feature_maps():
    torch.manual_seed(1)
    anchor = torch.randn(2, 7, 5, 6)
    weights = inr_cs_weights(anchor, [torch.randn(2, 7, 5, 6) for _ in range(4)])
    assert weights.shape == (4, 2, 5, 6)
    assert (weights >= 0).all() and torch.allclose(weights.sum(0), torch.ones(2, 5, 6), atol=1e-6)
    # a zero feature vector gives a zero logit, not NaN
    assert torch.isfinite(inr_cs_weights(torch.zeros(1, 3), [torch.zeros(1, 3)] * 4)).all()


def test_area_weights_are_bilinear_in_the_interior():
    rows, cols = axis_neighbours(16, 4), axis_neighbours(16, 4)
    offsets = [(rows.offset[a], cols.offset[b]) for a in (0, 1) for b in (0, 1)]
    weights = area_weights(offsets)[:, 5, 6]  # dy = (0.875, -0.125), dx = (0.125, -0.875)
    # each neighbour gets the area opposite to it: TL 0.125*0.875, TR 0.125*0.125, BL 0.875*0.875, BR 0.875*0.125
    assert torch.allclose(weights, torch.tensor([0.109375, 0.015625, 0.765625, 0.109375]), atol=1e-6)


def test_gaussian_kernel_values():
    kernel = gaussian_kernel(3, 0.5)
    profile = np.array([math.exp(-2.0), 1.0, math.exp(-2.0)])
    assert kernel.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(kernel, np.outer(profile, profile) / profile.sum() ** 2, rtol=1e-12)


def test_blur_of_a_delta_is_the_kernel_and_constant_stays_constant():
    delta = np.zeros((9, 9, 2), dtype=np.float32)
    delta[4, 4] = 1.0
    blurred = blur_downsample(delta, 1)
    np.testing.assert_allclose(blurred[3:6, 3:6, 0], gaussian_kernel(3, 0.5), atol=1e-7)
    assert blurred.sum() == pytest.approx(2.0, abs=1e-6)  # energy kept away from the border
    constant = np.full((16, 12, 3), 0.37, dtype=np.float32)
    np.testing.assert_allclose(blur_downsample(constant, 4), 0.37, atol=1e-7)
    assert blur_downsample(constant, 4).shape == (4, 3, 3)


def test_decimation_is_centred_on_the_block_and_torch_numpy_agree():
    image = np.random.default_rng(0).random((16, 8, 3)).astype(np.float32)
    # odd scale, kernel 1 = no blur: LR pixel i is the block's centre pixel 3*i + 1
    np.testing.assert_array_equal(blur_downsample(image[:15, :6], 3, kernel=1), image[1:15:3, 1:6:3])
    # even scale, kernel 1: the block centre 4*i + 1.5 lies between 4 pixels, which are averaged
    centre = image[1::4, 1::4] + image[2::4, 1::4] + image[1::4, 2::4] + image[2::4, 2::4]
    np.testing.assert_allclose(blur_downsample(image, 4, kernel=1), centre / 4, atol=1e-6)
    from_torch = blur_downsample(torch.from_numpy(image.transpose(2, 0, 1)[None].copy()), 4)
    np.testing.assert_allclose(from_torch[0].permute(1, 2, 0).numpy(), blur_downsample(image, 4), atol=1e-6)
    with pytest.raises(DataError, match="multiple of the scale"):
        blur_downsample(image[:15], 4)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_a_ramp_decimates_to_its_value_at_the_lr_pixel_centre_and_upsamples_back_exactly(scale):
    """The one geometry: LR pixel i sits at HR coordinate scale*i + (scale-1)/2 in decimation and upsampling."""
    from hsinr.spectral.degradation import lr_pixel_centre, upsample_bicubic

    size = 16 * scale
    ramp = np.add.outer(0.3 * np.arange(size), 0.1 * np.arange(size))[..., None].astype(np.float64)
    lr = blur_downsample(ramp, scale)
    centres = lr_pixel_centre(np.arange(16), scale)
    np.testing.assert_allclose(lr[2:-2, 2:-2, 0], np.add.outer(0.3 * centres, 0.1 * centres)[2:-2, 2:-2], atol=1e-4)
    up = upsample_bicubic(torch.from_numpy(lr.transpose(2, 0, 1)[None].astype(np.float64)), scale)[0, 0].numpy()
    inner = slice(3 * scale, -3 * scale)  # away from the reflected border of the decimation
    np.testing.assert_allclose(up[inner, inner], ramp[inner, inner, 0], atol=1e-4)
    # a geometry off by half an HR pixel (the old decimation at scale*i + scale//2) would miss by 0.2 here
    if scale % 2 == 0:
        assert np.abs(ramp[scale // 2 :: scale, scale // 2 :: scale, 0] - lr[..., 0])[2:-2, 2:-2].min() > 0.19


def test_a_smooth_pattern_decimated_then_upsampled_returns_close_to_itself():
    from hsinr.spectral.degradation import upsample_bicubic

    y, x = np.mgrid[0:128, 0:128] / 128.0
    smooth = (0.5 + 0.3 * np.sin(2 * np.pi * (1.5 * x + 0.5 * y)) * np.cos(2 * np.pi * y))[..., None]
    up = upsample_bicubic(torch.from_numpy(blur_downsample(smooth, 4).transpose(2, 0, 1)[None]), 4)[0, 0].numpy()
    rmse = np.sqrt(np.mean((up - smooth[..., 0]) ** 2))
    assert rmse < 0.006
    # the same image shifted by one HR pixel is much further away: a shift would be seen
    assert np.sqrt(np.mean((up[:, 1:] - smooth[:, :-1, 0]) ** 2)) > 2 * rmse


def test_shifting_the_image_by_the_scale_shifts_the_lr_image_by_one_pixel():
    image = np.random.default_rng(1).random((32, 32, 2))
    lr = blur_downsample(image, 4)
    shifted = blur_downsample(np.roll(image, (4, -4), axis=(0, 1)), 4)
    np.testing.assert_allclose(shifted[2:-2, 2:-2], np.roll(lr, (1, -1), axis=(0, 1))[2:-2, 2:-2], atol=1e-6)


def test_inf3_neighbours_use_the_geometry_of_the_decimation():
    from hsinr.spectral.degradation import hr_to_lr_coordinate, lr_pixel_centre

    rows = axis_neighbours(16, 4)
    u = hr_to_lr_coordinate(np.arange(16), 4)
    np.testing.assert_allclose(rows.offset[0].numpy()[4:12], (u - np.floor(u))[4:12], atol=1e-6)
    assert lr_pixel_centre(hr_to_lr_coordinate(7.0, 4), 4) == pytest.approx(7.0)


def test_simulate_pair_renders_msi_like_render_rgb():
    cube = synthetic_cube(16, bands=31)
    srf = np.random.default_rng(2).random((3, 31))
    srf /= srf.sum(axis=1, keepdims=True)
    lr, msi = simulate_pair(cube, srf, 4)
    assert lr.shape == (4, 4, 31) and msi.shape == (16, 16, 3) and msi.dtype == np.float32
    np.testing.assert_allclose(msi, render_rgb(cube, srf), atol=1e-6)
    np.testing.assert_allclose(msi[3, 5], srf @ cube[3, 5], atol=1e-6)


def test_band_average_response():
    nm = np.arange(400, 701, 10.0)
    box = band_average_response(nm, [450, 600], [20, 40])
    np.testing.assert_allclose(box.sum(axis=1), 1.0)
    np.testing.assert_allclose(box[0, [4, 5, 6]], 1 / 3)  # 440, 450, 460 nm
    np.testing.assert_allclose(box[1, 18:23], 1 / 5)  # 580..620 nm
    assert box[0].astype(bool).sum() == 3
    gauss = band_average_response(nm, [550], [30], shape="gaussian")
    np.testing.assert_allclose(gauss.sum(), 1.0)
    assert gauss[0, 15] > gauss[0, 14] > gauss[0, 13] and gauss[0, 14] == pytest.approx(gauss[0, 16])
    # FWHM 30 nm: 15 nm from the centre the weight is half the peak (540 and 560 nm are 10 nm away: 2^-(4/9))
    assert gauss[0, 14] / gauss[0, 15] == pytest.approx(2 ** (-4 / 9))
    with pytest.raises(DataError, match="no cube band"):
        band_average_response(nm, [900], [20])


def test_patch_dataset_items_follow_the_protocol():
    cube = synthetic_cube(48)
    srf = band_average_response(np.linspace(400, 700, 31), [460, 540, 620], [60, 60, 60])
    dataset = FusionPatchDataset([cube], srf, scale=4, patch_size=16, patches_per_epoch=5, seed=3)
    item = dataset[2]
    assert item["lr_hsi"].shape == (31, 4, 4) and item["hr_msi"].shape == (3, 16, 16)
    assert item["cube"].shape == (31, 16, 16)
    gt = item["cube"].permute(1, 2, 0).numpy()
    lr, msi = simulate_pair(gt, srf, 4)
    np.testing.assert_allclose(item["lr_hsi"].permute(1, 2, 0).numpy(), lr, atol=1e-6)
    np.testing.assert_allclose(item["hr_msi"].permute(1, 2, 0).numpy(), msi, atol=1e-6)
    assert torch.equal(dataset[2]["cube"], item["cube"])  # same (seed, epoch, index), same patch
    dataset.set_epoch(1)
    assert not torch.equal(dataset[2]["cube"], item["cube"])
    with pytest.raises(ConfigError, match="multiple of the scale"):
        FusionPatchDataset([cube], srf, scale=4, patch_size=18)


def test_full_dataset_crops_to_a_multiple_of_the_scale():
    cube = synthetic_cube(48)[:46, :39]
    srf = np.full((3, 31), 1 / 31)
    item = FusionFullDataset([cube], srf, scale=4, names=["a"])[0]
    assert item["name"] == "a" and item["cube"].shape == (31, 44, 36) and item["lr_hsi"].shape == (31, 11, 9)
    np.testing.assert_array_equal(item["cube"].permute(1, 2, 0).numpy(), cube[:44, :36])


def test_bicubic_baseline_is_the_projects_upsampling():
    from hsinr.spectral.degradation import upsample_bicubic

    model = make({"name": "bicubic_fusion", "args": {"scale": 4, "hsi_bands": 6}})
    lr, msi = torch.rand(2, 6, 5, 7), torch.rand(2, 3, 20, 28)
    assert torch.equal(model(lr, msi), upsample_bicubic(lr, 4))
    assert model.closed_form and not list(model.parameters())
    # Keys a = -0.5 at the phases of x4: HR pixel 4i + 2 sits at u = i + 1/8 (cubic_kernel weights by hand)
    row = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]).reshape(1, 1, 1, 6).expand(1, 1, 2, 6)
    up = upsample_bicubic(row, 4)[0, 0, 0]
    t = 0.125
    assert float(up[10]) == pytest.approx(1.5 * t**3 - 2.5 * t**2 + 1, abs=1e-6)  # HR 10 = 4*2 + 2: u = 2.125
    assert float(up[6]) == pytest.approx(1.5 * 0.875**3 - 2.5 * 0.875**2 + 1, abs=1e-6)  # u = 1.125, 0.875 away
    assert float(up[14]) == pytest.approx(-0.5 * 1.125**3 + 2.5 * 1.125**2 - 4 * 1.125 + 2, abs=1e-6)  # u = 3.125


@pytest.mark.parametrize("scale", [3, 4, 8])
def test_restfnet_output_shape(scale):
    torch.manual_seed(0)
    model = make({"name": "restfnet", "args": {"scale": scale, "hsi_bands": 5, "width": 4}})
    out = model(torch.rand(1, 5, 5, 3), torch.rand(1, 3, 5 * scale, 3 * scale))
    assert out.shape == (1, 5, 5 * scale, 3 * scale)


def test_tiled_fuse_equals_single_pass():
    model = tiny_inf3(4, bands=6).eval()
    rng = np.random.default_rng(4)
    lr = rng.random((40, 48, 6)).astype(np.float32)
    msi = rng.random((160, 192, 3)).astype(np.float32)
    with torch.no_grad():
        whole = model(torch.from_numpy(lr.transpose(2, 0, 1))[None], torch.from_numpy(msi.transpose(2, 0, 1))[None])
    whole = whole[0].permute(1, 2, 0).numpy()
    # the tiny model's receptive radius is below 24 HR pixels, so overlap/4 = 24 leaves every kept pixel exact
    tiled = fuse(lr, msi, model, tile=128, overlap=96)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    seams = fuse(lr, msi, model, tile=64, overlap=0)  # without overlap the tile borders differ: the test can fail
    assert np.abs(seams - whole).max() > 1e-3
    with pytest.raises(DataError, match="4 x the LR-HSI"):
        fuse(lr, msi[:, :190], model)


def test_adam_steps_lower_the_l1_loss():
    cube = synthetic_cube(64, bands=8, seed=5)
    srf = band_average_response(np.linspace(400, 700, 8), [450, 550, 650], [100, 100, 100])
    batch = torch.utils.data.default_collate(
        [FusionPatchDataset([cube], srf, 4, patch_size=32, patches_per_epoch=8, seed=0)[i] for i in range(8)]
    )
    model = tiny_inf3(4, bands=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = F.l1_loss(model(batch["lr_hsi"], batch["hr_msi"]), batch["cube"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * losses[0]


def _write_fusion_inputs(tmp_path, lr, msi):
    from hsinr.cube import Cube
    from hsinr.io import write_cube, write_rgb

    write_cube(tmp_path / "lr.npy", Cube(lr, np.linspace(400, 700, lr.shape[2])))
    write_rgb(tmp_path / "hr.png", msi, bits=16)


def test_fuse_command_end_to_end_and_errors(tmp_path, capsys):
    from hsinr.checkpoint import save_checkpoint
    from hsinr.io import read_cube, read_rgb

    spec = {"name": "inf3", "args": {"scale": 4, "hsi_bands": 6, **TINY}}
    model = tiny_inf3(4, bands=6)
    save_checkpoint(tmp_path / "m.pt", model, spec, {"task": "fusion"})
    rng = np.random.default_rng(6)
    lr, msi = rng.random((10, 12, 6)).astype(np.float32), rng.random((40, 48, 3)).astype(np.float32)
    _write_fusion_inputs(tmp_path, lr, msi)
    args = [
        "fuse",
        "--hsi",
        str(tmp_path / "lr.npy"),
        "--msi",
        str(tmp_path / "hr.png"),
        "--model",
        str(tmp_path / "m.pt"),
    ]
    assert main([*args, "-o", str(tmp_path / "out.npy"), "--tile", "32", "--overlap", "8"]) == 0
    out = read_cube(tmp_path / "out.npy")
    assert out.shape == (40, 48, 6)
    np.testing.assert_allclose(out.wavelengths, np.linspace(400, 700, 6))
    expected = fuse(lr, read_rgb(tmp_path / "hr.png"), model, tile=32, overlap=8)
    np.testing.assert_allclose(out.data, expected, atol=1e-6)

    _write_fusion_inputs(tmp_path, lr[:, :11], msi)  # 44 != 48 columns
    assert main([*args, "-o", str(tmp_path / "bad.npy")]) == 2
    assert "must be 4 x the LR-HSI size 10x11" in capsys.readouterr().err
    _write_fusion_inputs(tmp_path, lr[..., :5], msi)
    assert main([*args, "-o", str(tmp_path / "bad.npy")]) == 2
    assert "5 bands, but the checkpoint" in capsys.readouterr().err


def test_inf3_matches_a_direct_evaluation_of_eq_10_to_17_at_one_pixel():
    """Recompute E_q of one interior HR pixel from the paper's equations with explicit coordinates (eq. 2)."""
    model = tiny_inf3(4, bands=5)
    scale, h, w = 4, 4, 4
    lr, msi = torch.rand(1, 5, h, w), torch.rand(1, 3, h * scale, w * scale)
    with torch.no_grad():
        up = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)
        s_pe, s_pa = model.spectral(lr), model.spatial(torch.cat([up, msi], 1))
        f1 = torch.cat([s_pe, F.avg_pool2d(s_pa, scale)], 1)[0]  # eq. 11-12, (D, h, w)
        encoded = model._inf3(f1[None], s_pa, h * scale, w * scale)[0]
        first = model.mlp.first
        weight = torch.cat([first[0].weight, first[1].weight, first[2].weight], dim=1)  # the MLP on Cat(F1, S_pa, dC)
        qy, qx = 5, 10
        cq = torch.stack([pixel_centres(h * scale)[qy], pixel_centres(w * scale)[qx]])
        centres_y, centres_x = pixel_centres(h), pixel_centres(w)
        near_rows = torch.argsort((centres_y - cq[0]).abs())[:2]
        near_cols = torch.argsort((centres_x - cq[1]).abs())[:2]
        nearest = f1[:, near_rows[0], near_cols[0]]  # q-hat
        values, logits = [], []
        for i in near_rows:
            for j in near_cols:
                rel = (cq - torch.stack([centres_y[i], centres_x[j]])) * torch.tensor([h / 2, w / 2])
                f3 = torch.cat([f1[:, i, j], s_pa[0, :, qy, qx], rel])  # eq. 13-14
                values.append(model.mlp.finish(weight @ f3 + first[0].bias))  # eq. 15
                a, b = nearest, f1[:, i, j]
                logits.append(a.norm() * b.norm() * torch.dot(a, b) / (a.norm() * b.norm()))  # eq. 16
        weights = torch.softmax(torch.stack(logits), 0)  # eq. 17
        expected = sum(wk * vk for wk, vk in zip(weights, values, strict=True))  # eq. 10
    torch.testing.assert_close(encoded[:, qy, qx], expected, atol=1e-5, rtol=1e-5)


#: Overrides for a one-step fusion run on 32-px scenes 0 and 1, validated on scene 2.
ONE_STEP_ON_TWO_SCENES = (
    "data.patches_per_epoch=2",
    "train.batch_size=2",
    "train.epochs=1",
    "train.device=cpu",
    "train.val_tile=32",
    "data.split={train: [scene0, scene1], val: [scene2], test: []}",
)


def fusion_training_config(tmp_path, cubes, *overrides) -> dict:
    """A ``task: fusion`` config over ``cubes`` written as ``scene0.h5, scene1.h5, …`` (folder data, 16-px patches,
    CIE 1964 MSI), plus ``overrides``."""
    from hsinr.config import load_config
    from hsinr.cube import Cube, default_wavelengths
    from hsinr.io import write_cube

    root = tmp_path / "data"
    root.mkdir(parents=True)
    for i, cube in enumerate(cubes):
        write_cube(root / f"scene{i}.h5", Cube(cube, default_wavelengths(31)))
    shared = [f"data.root={root}", "data.kind=folder", "task=fusion", "data.patch_size=16", "data.response=cie1964_xyz"]
    return load_config(None, [*shared, *overrides])


def test_fusion_task_trains_and_writes_a_usable_checkpoint(tmp_path):
    from hsinr.checkpoint import load_checkpoint
    from hsinr.train import train

    config = fusion_training_config(
        tmp_path,
        [synthetic_cube(32, seed=i) for i in range(3)],
        "data.patches_per_epoch=4",
        "train.batch_size=2",
        "train.epochs=1",
        "train.device=cpu",
        "train.val_tile=32",
        "data.split={train: [scene0, scene1], val: [scene2], test: []}",
    )
    config["model"] = {"name": "inf3", "args": {"scale": 4, **TINY}}
    train(config, tmp_path / "run", progress=False)
    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert meta["task"] == "fusion" and meta["scale"] == 4 and np.asarray(meta["srf"]).shape == (3, 31)
    assert meta["val"]["psnr"] > 10 and model.scale == 4
    config["data"]["scale"] = 8
    with pytest.raises(ConfigError, match="must agree"):
        train(config, tmp_path / "run8", progress=False)


def test_fusion_task_trains_with_the_configured_loss(tmp_path):
    """``train.loss`` reaches the fusion objective (it was fixed at L1 and the setting was silently ignored)."""
    from hsinr.tasks import make_task

    cubes = [synthetic_cube(32, seed=i) for i in range(2)]
    split = "data.split={train: [scene0], val: [scene1], test: []}"
    torch.manual_seed(0)
    model = tiny_inf3()
    batch = None
    for loss_spec, reference in (("mse", torch.nn.functional.mse_loss), ("l1+0.5*mse", None)):
        config = fusion_training_config(tmp_path / loss_spec, cubes, split, f"train.loss={loss_spec}")
        task = make_task(config, tmp_path / loss_spec / "run")
        if batch is None:
            item = task.train_dataset(0)[0]
            batch = {key: value[None] for key, value in item.items()}
            pred = model(batch["lr_hsi"], batch["hr_msi"]).detach()
            l1, mse = (
                torch.nn.functional.l1_loss(pred, batch["cube"]),
                torch.nn.functional.mse_loss(pred, batch["cube"]),
            )
        total, terms = task.loss(model, batch)
        expected = mse if reference is not None else l1 + 0.5 * mse
        torch.testing.assert_close(total.detach(), expected, rtol=1e-5, atol=1e-9)
        assert set(terms) == ({"mse"} if reference is not None else {"l1", "mse"})


def test_benchmark_counts_fusion_macs_per_hr_pixel():
    from hsinr.benchmark import _macs_per_pixel

    model = tiny_inf3(upsample="bilinear")  # 1-layer encoders of width 8, MLP 24 → 16 → 8, decoder 8 → 8 → 31
    spectral = 8 * 31 * 9 / 16  # 3×3 conv on the 16×16 LR grid, per 64×64 HR pixel
    spatial = 8 * (31 + 3) * 9
    mlp = (16 + 8) * 16 + 16 * 8
    decoder = 8 * 8 * 9 + 31 * 8 * 9
    assert _macs_per_pixel(model) == pytest.approx(spectral + spatial + mlp + decoder)
    assert _macs_per_pixel(make({"name": "bicubic_fusion", "args": {}})) == 0.0


def test_default_tiling_of_fuse_is_exact():
    """With the default overlap (18 x scale) tiles reproduce the whole-image pass of INF3 to float rounding."""
    torch.manual_seed(0)
    model = make(
        {
            "name": "inf3",
            "args": {
                "scale": 4,
                "spectral_features": 16,
                "spatial_features": 16,
                "fused_features": 16,
                "encoder_width": 16,
                "mlp_hidden": [32],
            },
        }
    ).eval()
    rng = np.random.default_rng(0)
    lr, hr = rng.random((40, 44, 31), dtype=np.float32), rng.random((160, 176, 3), dtype=np.float32)
    np.testing.assert_allclose(fuse(lr, hr, model, tile=64), fuse(lr, hr, model, tile=1024), atol=1e-5)


def test_fuse_tiles_inf3_over_a_regression_prior_exactly():
    """INF³ over a (calibrated, blended) regression prior: ``fuse`` fits the prior once on the whole image and runs the
    network tile by tile on its crops; with the default overlap that equals the whole-image forward pass."""
    from hsinr.models.detail_calibration import DetailCalibration

    model = tiny_inf3(prior="regression", prior_window=16, calibration=3, calibration_windows=[0]).eval()
    torch.nn.init.normal_(model.decoder[-1].weight, std=0.05)  # a network that adds something to its prior
    generator = torch.Generator().manual_seed(1)
    fitted = DetailCalibration(31, 3, sources=2)
    fitted.own.copy_(torch.rand(31, 1, 3, 3, generator=generator) / 9)
    fitted.stacked.copy_(torch.rand(31, 1, generator=generator))
    model.calibration.load_state_dict(fitted.state_dict())
    rng = np.random.default_rng(0)
    lr, hr = rng.random((40, 44, 31), dtype=np.float32), rng.random((160, 176, 3), dtype=np.float32)
    with torch.no_grad():
        whole = model(torch.from_numpy(lr).permute(2, 0, 1)[None], torch.from_numpy(hr).permute(2, 0, 1)[None])
    np.testing.assert_allclose(fuse(lr, hr, model, tile=64), whole[0].permute(1, 2, 0).numpy(), atol=1e-5)


def test_detail_calibration_starts_as_the_identity_and_fits_a_known_filter():
    """Unfitted, the calibration returns the fusion unchanged; fitted on scenes whose truth is a known filter of the
    detail (own-band kernel + cross-band weights + weights of a second fusion's detail), it recovers that filter and
    reproduces the truth."""
    from hsinr.models.detail_calibration import DetailCalibration

    bands, kernel = 4, 3
    calibration = DetailCalibration(bands, kernel, sources=2)
    rng = torch.Generator().manual_seed(0)

    def images(count: int) -> list[torch.Tensor]:
        return [torch.rand(1, bands, 20, 24, generator=rng) for _ in range(count)]

    upsampled, fused, other = images(3)
    assert torch.equal(calibration(upsampled, fused, other), fused - upsampled + upsampled)
    truth_filter = DetailCalibration(bands, kernel, sources=2)
    truth_filter.own.copy_(torch.randn(bands, 1, kernel, kernel, generator=rng))
    truth_filter.cross.copy_(torch.randn(bands, bands, 1, 1, generator=rng) * (1 - torch.eye(bands))[..., None, None])
    truth_filter.stacked.copy_(torch.randn(bands, 1, generator=rng))
    scenes = [images(3) for _ in "ab"]
    calibration.fit((up, (f, o), truth_filter(up, f, o)) for up, f, o in scenes)
    for name in ("own", "cross", "stacked"):
        torch.testing.assert_close(getattr(calibration, name), getattr(truth_filter, name), atol=1e-4, rtol=0)
    expected = truth_filter(upsampled, fused, other)
    torch.testing.assert_close(calibration(upsampled, fused, other), expected, atol=1e-4, rtol=0)
    with pytest.raises(ConfigError, match="combines 2 fusions, got 1"):
        calibration(upsampled, fused)
    own_only = DetailCalibration(bands, kernel, sources=2, cross_bands=False)
    own_only.fit((up, (f, o), truth_filter(up, f, o)) for up, f, o in scenes)
    assert not own_only.cross.any() and not torch.equal(own_only.own, DetailCalibration(bands, kernel).own)
    with pytest.raises(ConfigError, match="odd"):
        DetailCalibration(bands, 2)
    with pytest.raises(ConfigError, match="no training scenes"):
        DetailCalibration(bands, 1).fit([])
    assert "stacked" not in DetailCalibration(bands, 1).state_dict()  # checkpoints from before the blend still load


def test_detail_calibration_ridge_shrinks_towards_the_uncalibrated_fusion():
    """A huge ridge leaves the identity (the fusion unchanged), not zero detail; a tiny one fits the truth's filter;
    the ridge between them gives a filter between the two."""
    from hsinr.models.detail_calibration import DetailCalibration

    bands, kernel = 3, 3
    rng = torch.Generator().manual_seed(1)
    scenes = [[torch.rand(1, bands, 16, 16, generator=rng) for _ in range(2)] for _ in "ab"]
    # the truth carries half of the fusion's detail in every band
    triples = [(up, (fused,), up + 0.5 * (fused - up)) for up, fused in scenes]
    identity = DetailCalibration(bands, kernel).own
    centre = (slice(None), 0, kernel // 2, kernel // 2)
    fitted = {}
    for ridge in (1e-8, 1.0, 1e8):
        calibration = DetailCalibration(bands, kernel, cross_bands=False, ridge=ridge)
        calibration.fit(iter(triples))
        fitted[ridge] = calibration.own
    torch.testing.assert_close(fitted[1e8], identity, atol=1e-6, rtol=0)
    torch.testing.assert_close(fitted[1e-8][centre], torch.full((bands,), 0.5), atol=1e-5, rtol=0)
    assert torch.all((fitted[1.0][centre] > 0.5 + 1e-3) & (fitted[1.0][centre] < 1.0 - 1e-3))


def test_inf3_calibration_is_fitted_on_the_training_scenes_and_travels_in_the_checkpoint(tmp_path):
    """``calibration: K`` needs the regression prior; the fusion trainer fits it before the first step, so step 0 is
    the calibrated prior, and the fitted filter is in ``best.pt``."""
    from hsinr.checkpoint import load_checkpoint
    from hsinr.models.detail_calibration import DetailCalibration
    from hsinr.train import train

    with pytest.raises(ConfigError, match="prior: regression"):
        tiny_inf3(calibration=3)
    with pytest.raises(ConfigError, match="set calibration"):
        tiny_inf3(prior="regression", calibration_windows=[0])
    with pytest.raises(ConfigError, match="multiples of the scale"):
        tiny_inf3(prior="regression", calibration=3, calibration_windows=[30])
    cubes = [synthetic_cube(32, seed=i) for i in range(3)]
    for cube in cubes:  # four soft bands, as CAVE's 400 nm
        cube[..., :4] = F.avg_pool2d(torch.from_numpy(cube[..., :4]).permute(2, 0, 1), 3, 1, 1).permute(1, 2, 0).numpy()
    # lr 1e-9: the validation then scores the (calibrated) prior
    config = fusion_training_config(tmp_path, cubes, *ONE_STEP_ON_TWO_SCENES, "train.lr=1e-9")
    scores = {}
    for kernel, windows in ((0, []), (3, []), (3, [0])):
        args = {"scale": 4, "prior": "regression", "prior_window": 16, "calibration": kernel, **TINY}
        config["model"] = {"name": "inf3", "args": {**args, "calibration_windows": windows}}
        train(config, tmp_path / f"run{kernel}{windows}", progress=False)
        model, meta = load_checkpoint(tmp_path / f"run{kernel}{windows}" / "best.pt")
        scores[kernel, len(windows)] = meta["val"]["psnr"]
    assert not torch.equal(model.calibration.own, DetailCalibration(31, 3).own)  # fitted, not the identity
    assert model.calibration.stacked.abs().sum() > 0  # the whole-image fusion's detail is blended in
    assert scores[3, 0] > scores[0, 0] + 0.5, scores
    assert scores[3, 1] > scores[3, 0], scores


def test_calibrated_regression_fusion_is_fitted_in_one_pass_and_equals_inf3s_untrained_prior(tmp_path, capsys):
    """``calibrated_regression_fusion`` is INF³'s calibrated regression prior without the network: ``hsinr train``
    fits it in closed form (no optimiser step), it outputs exactly what an INF³ with the same prior and calibration
    outputs before training, and it refuses to run unfitted or with windows that are not multiples of the scale."""
    from hsinr.checkpoint import load_checkpoint
    from hsinr.spectral import builtin_response
    from hsinr.train import train

    args = {"scale": 4, "window": 16, "calibration": 3, "calibration_windows": [0]}
    with pytest.raises(ConfigError, match="multiples of the scale"):
        make({"name": "calibrated_regression_fusion", "args": {**args, "window": 18}})
    cubes = [synthetic_cube(32, seed=i) for i in range(3)]
    cie_srf = builtin_response("cie1964_xyz").srf
    lr, msi = (torch.from_numpy(a.transpose(2, 0, 1).copy())[None] for a in simulate_pair(cubes[2], cie_srf, 4))
    with pytest.raises(ConfigError, match="not been fitted"):
        make({"name": "calibrated_regression_fusion", "args": args})(lr, msi)
    config = fusion_training_config(tmp_path, cubes, *ONE_STEP_ON_TWO_SCENES)
    config["model"] = {"name": "calibrated_regression_fusion", "args": args}
    summary = train(config, tmp_path / "closed", progress=True)
    assert summary["stopped"] == "closed form"
    assert "closed-form fit on the training scenes: 2 scene in" in capsys.readouterr().err  # progress
    closed, meta = load_checkpoint(tmp_path / "closed" / "best.pt")
    inf3_args = {"scale": 4, "prior": "regression", "prior_window": 16, "calibration": 3, "calibration_windows": [0]}
    config["model"] = {"name": "inf3", "args": {**inf3_args, **TINY}}
    train(config, tmp_path / "inf3", progress=False)  # fits the same calibration, then takes a step
    inf3, _ = load_checkpoint(tmp_path / "inf3" / "best.pt")
    inf3.zero_output()  # back to its untrained output: the calibrated prior
    with torch.no_grad():
        torch.testing.assert_close(closed(lr, msi), inf3(lr, msi), atol=1e-6, rtol=0)
        assert not torch.equal(closed(lr, msi), make({"name": "regression_fusion", "args": {"scale": 4}})(lr, msi))
    assert meta["val"]["psnr"] > 20
