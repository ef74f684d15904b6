"""INSS (Liu, Zou, Shi): model, losses, remote-sensing data preparation and the ``synthesize`` command."""

from __future__ import annotations

import colorsys
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hsinr.data.remote import (
    aviris_band_centres,
    band_pick_response,
    load_jasper_ridge,
    load_remote_cube,
    load_samson,
    load_urban,
    nearest_bands,
    rgb_from_bands,
    split_columns,
    split_rows,
    valid_band_mask,
)
from hsinr.errors import ConfigError, DataError
from hsinr.models import make
from hsinr.models.inss import INSSOutput, cell_positional_encoding
from hsinr.tasks.synthesis import (
    INSSLoss,
    band_variance_weights,
    cosine_loss,
    hsv_loss,
    rgb_to_hsv,
    weighted_l1_loss,
)

REMOTE = Path(__file__).resolve().parents[2] / "shared" / "data" / "remote"
JASPER = REMOTE / "jasper_ridge_198.mat"
# Jasper Ridge keeps AVIRIS bands 4-107, 113-153 and 167-219 (its SlectBands).
JASPER_BANDS = np.r_[4:108, 113:154, 167:220]

torch.set_num_threads(1)


def tiny_library(count=5, bands=12, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 + 0.8 * rng.random((count, bands))).astype(np.float32)


def tiny_model(order=3, library=None, **kwargs):
    library = tiny_library() if library is None else library
    args = {"library": library.tolist(), "order": order, "cell": 4, "widths": [8, 8, 8, 8], **kwargs}
    return make({"name": "inss", "args": args})


# ------------------------------------------------------------------------------------------------------------ model


def test_abundances_are_a_partition_of_unity_and_odd_sizes_keep_their_shape():
    torch.manual_seed(0)
    model = tiny_model()
    rgb = torch.rand(2, 3, 19, 13)
    cube, abundances, t = model.forward_with_abundances(rgb)
    assert cube.shape == (2, 12, 19, 13)
    assert abundances.shape == (2, 5, 19, 13)
    assert t.shape == (12,)
    assert abundances.min() >= 0
    torch.testing.assert_close(abundances.sum(1), torch.ones(2, 19, 13), atol=1e-6, rtol=0)
    assert model(rgb).shape == (2, 12, 19, 13)


def test_order_one_is_exactly_the_linear_mixture():
    torch.manual_seed(1)
    library = tiny_library()
    model = tiny_model(order=1, library=library)
    assert model.transform is None
    with torch.no_grad():
        model.t.copy_(0.5 + torch.rand(12))
    rgb = torch.rand(1, 3, 11, 17)
    cube, abundances, t = model.forward_with_abundances(rgb)
    expected = torch.einsum("ngyx,gb->nbyx", abundances, torch.from_numpy(library)) * t[None, :, None, None]
    torch.testing.assert_close(cube, expected, atol=1e-6, rtol=1e-6)


def test_higher_orders_stay_within_the_bound_of_eq5_and_vanish_with_zero_parameters():
    torch.manual_seed(2)
    model = tiny_model(order=3)
    out = model.decompose(torch.rand(1, 3, 16, 16))
    # |x^k| < 0.1 per band, so |s - l| <= (0.1 + 0.01)|l| (eq. 4-5, 0.1*tanh output activation)
    assert torch.all((out.cube - out.linear).abs() <= 0.11 * out.linear.abs() + 1e-7)
    assert (out.cube - out.linear).abs().max() > 0
    with torch.no_grad():
        model.transform[-1].weight.zero_()
        model.transform[-1].bias.zero_()
    out = model.decompose(torch.rand(1, 3, 16, 16))
    torch.testing.assert_close(out.cube, out.linear, atol=0, rtol=0)


def test_one_pixel_matches_an_explicit_evaluation_of_eq5_with_its_cell_parameters():
    torch.manual_seed(3)
    library = torch.from_numpy(tiny_library())
    model = tiny_model(order=3, library=library.numpy())
    rgb = torch.rand(1, 3, 16, 16)  # a multiple of the padding: no padding involved
    with torch.no_grad():
        out = model.decompose(rgb)
        logits, features = model.abundance_net(rgb)
        abundances = torch.softmax(logits, dim=1)  # eq. 8
        params = model.transform(features[2])  # cell 4 -> the decoder feature at 1/4
    y, x = 9, 6  # cell (2, 1), position (1, 2) inside it
    cell_params = params[0, :, y // 4, x // 4]
    encoding = cell_positional_encoding(4)[(y % 4) * 4 + (x % 4)]
    mlp_in = torch.cat([abundances[0, :, y, x], encoding])
    n_in, n_h, n_g = mlp_in.numel(), 32, 5
    linear = model.t * (abundances[0, :, y, x] @ library)
    total, reflection = linear.clone(), linear.clone()
    for k in range(2):
        p = cell_params[k * model.params_per_mlp : (k + 1) * model.params_per_mlp]
        w1, b1, w2, b2 = torch.split(p, [n_in * n_h, n_h, n_h * n_g, n_g])
        h = torch.nn.functional.leaky_relu(mlp_in @ w1.reshape(n_in, n_h) + b1, 0.2)
        h = torch.nn.functional.leaky_relu(h @ w2.reshape(n_h, n_g) + b2, 0.2)
        reflection = reflection * 0.1 * torch.tanh(h @ library)
        total = total + reflection
    torch.testing.assert_close(out.cube[0, :, y, x], total.detach(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.linear[0, :, y, x], linear.detach(), atol=1e-6, rtol=1e-6)


def test_positional_encoding_of_eq7_is_relative_to_the_cell_centre():
    encoding = cell_positional_encoding(4)
    assert encoding.shape == (16, 8)  # 4 * log2(4) values per pixel
    # top-left pixel: offset (-1.5, -1.5); k = 1: sin(-1.5 pi) = 1, cos = 0; k = 2: sin(-0.75 pi) = -sqrt(2)/2
    s = math.sqrt(0.5)
    torch.testing.assert_close(encoding[0], torch.tensor([1.0, 0.0, 1.0, 0.0, -s, -s, -s, -s]), atol=1e-6, rtol=0)
    # pixel (row 0, col 3): x offset +1.5
    torch.testing.assert_close(encoding[3, :2], torch.tensor([-1.0, 0.0]), atol=1e-6, rtol=0)


def test_mlp_parameter_count_follows_the_paper_layer_sizes():
    model = tiny_model(order=3)
    n_in = 5 + 4 * 2  # N_g + 4 log2 D
    assert model.params_per_mlp == n_in * 32 + 32 + 32 * 5 + 5
    assert model.transform[-1].out_channels == 2 * model.params_per_mlp
    assert model.transform[0].padding == (1, 1, 1, 1)  # reflection padding before the 3x3 convolution


def mixture_scene(library: np.ndarray, size=16, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rgb, cube, abundances)`` of a scene whose pixels mix the library's non-zero spectra with abundances that
    sum to less than one (the rest is shade); its RGB is three of its bands, so the abundances are a linear function
    of the RGB when the library has three non-zero spectra."""
    rng = np.random.default_rng(seed)
    mixed = rng.dirichlet(np.ones(4), size=size * size)[:, :3]  # three materials, the fourth share is shade
    abundances = np.concatenate([mixed, 1 - mixed.sum(1, keepdims=True)], axis=1)
    cube = (abundances @ library).reshape(size, size, -1)
    return cube[..., [9, 5, 1]].copy(), cube, abundances


def test_the_abundance_prior_recovers_linear_abundances_and_the_model_starts_at_it():
    """Three materials plus shade, RGB = three of the bands: the materials' abundances are linear in the RGB, so a
    degree-1 prior fitted on the scene recovers them, the shade takes the rest, and INSS's linear part starts at the
    mixture (its whole output, for order 1), with abundances that sum to one."""
    library = np.concatenate([tiny_library(count=3), np.zeros((1, 12), np.float32)])
    rgb, cube, abundances = mixture_scene(library)
    image = torch.from_numpy(rgb.transpose(2, 0, 1))[None].float()
    for order in (1, 3):
        torch.manual_seed(order)
        model = tiny_model(order=order, library=library, abundance_prior={"degree": 1})
        with pytest.raises(ConfigError, match="not been fitted"):
            model(image)
        model.fit_prior([(rgb, cube)])
        out = model.decompose(image)
        expected = torch.from_numpy(abundances.T.reshape(4, 16, 16)).float()[None]
        torch.testing.assert_close(out.abundances, expected, atol=1e-3, rtol=0)  # floor 1e-4, ridge
        torch.testing.assert_close(out.abundances.sum(1), torch.ones(1, 16, 16), atol=1e-6, rtol=0)
        truth = torch.from_numpy(cube.transpose(2, 0, 1))[None].float()
        torch.testing.assert_close(out.linear, truth, atol=1e-3, rtol=0)
        if order == 1:
            torch.testing.assert_close(out.cube, out.linear, atol=0, rtol=0)


def test_the_abundance_prior_travels_in_the_checkpoint(tmp_path):
    from hsinr.checkpoint import load_checkpoint, save_checkpoint

    library = np.concatenate([tiny_library(count=3), np.zeros((1, 12), np.float32)])
    rgb, cube, _ = mixture_scene(library)
    spec = {
        "name": "inss",
        "args": {
            "library": library.tolist(),
            "order": 2,
            "cell": 4,
            "widths": [8, 8, 8, 8],
            "abundance_prior": {"degree": 2},
        },
    }
    model = make(spec).eval()
    model.fit_prior([(rgb, cube)])
    save_checkpoint(tmp_path / "m.pt", model, spec, {})
    loaded = load_checkpoint(tmp_path / "m.pt", "cpu")[0].eval()
    image = torch.from_numpy(rgb.transpose(2, 0, 1))[None].float()
    torch.testing.assert_close(loaded(image), model(image), atol=0, rtol=0)


@pytest.mark.parametrize(
    "args",
    [
        {"cell": 6},
        {"out_bands": 31},
        {"widths": [8, 8, 8]},
        {"order": 0},
        {"library_names": ["a"]},
        {"abundance_prior": {"degree": 4}},
        {"abundance_prior": {"degre": 2}},
        {"abundance_prior": 2},
    ],
)
def test_builder_rejects_inconsistent_arguments(args):
    with pytest.raises(ConfigError):
        tiny_model(**args)


# ----------------------------------------------------------------------------------------------------------- losses


def test_weighted_l1_and_band_variance_weights_by_hand():
    target = torch.zeros(1, 3, 1, 2)
    target[0, 0] = torch.tensor([[0.0, 2.0]])  # variance 1
    target[0, 1] = torch.tensor([[0.0, 2.0 * math.sqrt(3)]])  # variance 3
    target[0, 2] = torch.tensor([[0.0, 10.0]])  # invalid band
    valid = torch.tensor([True, True, False])
    weights = band_variance_weights(target, valid)
    torch.testing.assert_close(weights, torch.tensor([0.25, 0.75, 0.0]))
    pred = target + torch.tensor([1.0, 2.0, 100.0])[None, :, None, None]
    assert float(weighted_l1_loss(pred, target, weights)) == pytest.approx(0.25 * 1 + 0.75 * 2)


def test_cosine_loss_is_zero_for_parallel_and_one_for_orthogonal_spectra():
    a = torch.tensor([1.0, 2.0, 0.0, 0.0])[None, :, None, None]
    valid = torch.ones(4, dtype=torch.bool)
    assert float(cosine_loss(3.0 * a, a, valid)) == pytest.approx(0.0, abs=1e-6)
    b = torch.tensor([0.0, 0.0, 5.0, 1.0])[None, :, None, None]
    assert float(cosine_loss(b, a, valid)) == pytest.approx(1.0, abs=1e-6)


def test_rgb_to_hsv_matches_colorsys_and_hue_distance_wraps():
    rng = np.random.default_rng(0)
    colours = rng.random((50, 3)).astype(np.float32)
    hsv = rgb_to_hsv(torch.from_numpy(colours).T[None, :, :, None])[0, :, :, 0].T.numpy()
    expected = np.array([colorsys.rgb_to_hsv(*c) for c in colours])
    np.testing.assert_allclose(hsv, expected, atol=1e-5)
    red_a = torch.tensor([1.0, 0.0, 0.3])  # hue 0.95
    red_b = torch.tensor([1.0, 0.3, 0.0])  # hue 0.05
    loss = hsv_loss(red_a[None, :, None, None], red_b[None, :, None, None])
    assert float(loss) == pytest.approx(0.1 / 3, abs=1e-5)  # only hue differs: 0.1 around the circle, not 0.9


class FixedOutput(torch.nn.Module):
    """A stand-in INSS returning a given decomposition (to test the objective alone)."""

    def __init__(self, cube, linear):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.cube, self.linear = cube, linear

    def decompose(self, rgb):
        return INSSOutput(self.cube * self.scale, self.linear, None, None)


def objective_batch(bands=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = 0.1 + torch.rand(2, bands, 8, 8, generator=g)
    pred = target + 0.05 * torch.randn(2, bands, 8, 8, generator=g)
    linear = 0.95 * pred
    response = np.zeros((3, bands))
    response[[0, 1, 2], [7, 4, 1]] = 1.0
    rgb = target[:, [7, 4, 1]]
    return {"rgb": rgb, "cube": target}, pred, linear, response


def test_total_loss_is_the_weighted_sum_and_each_weight_removes_its_term():
    batch, pred, linear, response = objective_batch()
    model = FixedOutput(pred, linear)
    weights = {"cos": 10.0, "hsv": 0.1, "reg": 1.0, "adv": 0.01}
    total, terms = INSSLoss(10, response).loss(model, batch)
    assert set(terms) == {"pxl", "cos", "hsv", "reg", "adv", "total"}
    assert all(math.isfinite(v) for v in terms.values())
    assert terms["reg"] == pytest.approx(float((pred - linear).abs().mean()), rel=1e-5)
    expected = terms["pxl"] + sum(w * terms[k] for k, w in weights.items())
    assert float(total.detach()) == pytest.approx(expected, rel=1e-5)
    for name in weights:
        total_off, terms_off = INSSLoss(10, response, **{f"lambda_{name}": 0.0}).loss(model, batch)
        assert name not in terms_off
        rest = {k: w for k, w in weights.items() if k != name}
        expected = terms_off["pxl"] + sum(w * terms_off[k] for k, w in rest.items())
        assert float(total_off.detach()) == pytest.approx(expected, rel=1e-5)
        assert terms_off["pxl"] == pytest.approx(terms["pxl"], rel=1e-6)
    _, flat = INSSLoss(10, response, band_weighted=False, lambda_adv=0.0).loss(model, batch)
    assert flat["pxl"] == pytest.approx(float((pred - batch["cube"]).abs().mean()), rel=1e-5)


def test_invalid_bands_do_not_change_the_loss():
    batch, pred, linear, response = objective_batch()
    valid = np.ones(10, dtype=bool)
    valid[[0, 9]] = False
    objective = INSSLoss(10, response, valid_bands=valid, lambda_adv=0.0)
    _, before = objective.loss(FixedOutput(pred, linear), batch)
    spoiled = pred.clone()
    spoiled[:, [0, 9]] += 5.0
    _, after = objective.loss(FixedOutput(spoiled, linear.clone()), batch)
    for key in ("pxl", "cos", "hsv"):
        assert after[key] == pytest.approx(before[key], rel=1e-6)


def test_discriminators_update_once_every_three_generator_iterations():
    batch, pred, linear, response = objective_batch()
    model = FixedOutput(pred, linear)
    objective = INSSLoss(10, response, d_lr=1e-2)
    before = [p.detach().clone() for p in objective.spatial.parameters()]
    assert objective.discriminator_step(model, batch) == {}
    assert objective.discriminator_step(model, batch) == {}
    assert all(torch.equal(a, b) for a, b in zip(before, objective.spatial.parameters(), strict=True))
    report = objective.discriminator_step(model, batch)
    assert set(report) == {"d_spatial", "d_spectral"}
    assert any(not torch.equal(a, b) for a, b in zip(before, objective.spatial.parameters(), strict=True))
    assert model.scale.grad is None  # the generator is not touched by the discriminator step
    assert INSSLoss(10, response, lambda_adv=0.0).discriminator_step(model, batch) == {}


def test_a_few_generator_steps_lower_the_loss_on_a_synthetic_mixture():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    bands = 16
    wavelengths = np.linspace(400, 1000, bands)
    library = (0.2 + 0.6 * torch.rand(4, bands, generator=g)).numpy()
    logits = torch.nn.functional.interpolate(torch.randn(2, 4, 4, 4, generator=g) * 3, size=(16, 16), mode="bilinear")
    abundances = logits.softmax(1)
    t_true = 0.8 + 0.4 * torch.rand(bands, generator=g)
    cube = torch.einsum("ngyx,gb->nbyx", abundances, torch.from_numpy(library)) * t_true[None, :, None, None]
    response = band_pick_response(wavelengths, wavelengths[[12, 7, 2]])
    batch = {"rgb": torch.einsum("nbyx,kb->nkyx", cube, torch.from_numpy(response).float()), "cube": cube}
    model = tiny_model(order=2, library=library)
    objective = INSSLoss(bands, response)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, _ = objective.loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        objective.discriminator_step(model, batch)
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])


# ------------------------------------------------------------------------------------------------ remote sensing


def test_aviris_centres_and_rgb_picks_of_bands_35_18_8():
    assert aviris_band_centres([1, 35, 224]).tolist() == pytest.approx([365.0, 691.4, 2505.8])
    numbers = np.arange(1, 225)
    cube = np.broadcast_to(numbers.astype(np.float32), (3, 4, 224))
    np.testing.assert_array_equal(rgb_from_bands(cube, aviris_band_centres(numbers))[0, 0], [35, 18, 8])
    jasper = np.broadcast_to(JASPER_BANDS.astype(np.float32), (2, 2, JASPER_BANDS.size))
    wavelengths = aviris_band_centres(JASPER_BANDS)
    np.testing.assert_array_equal(rgb_from_bands(jasper, wavelengths)[1, 1], [35, 18, 8])
    response = band_pick_response(wavelengths)
    np.testing.assert_array_equal(jasper @ response.T, rgb_from_bands(jasper, wavelengths))
    with pytest.raises(DataError):
        nearest_bands(wavelengths, [300.0])


def test_water_absorption_mask_drops_the_paper_bands():
    numbers = np.arange(1, 225)
    dropped = numbers[~valid_band_mask(aviris_band_centres(numbers))]
    expected = np.r_[104:115, 152:169, 219:225]  # paper: 104-114 and 152-168; plus beyond 2450 nm
    np.testing.assert_array_equal(dropped, expected)


@pytest.mark.skipif(not JASPER.exists(), reason="shared remote-sensing data not present")
def test_jasper_ridge_loader_assigns_aviris_centres_and_rgb_bands():
    cube = load_jasper_ridge(JASPER)
    assert cube.shape == (100, 100, 198)
    np.testing.assert_allclose(cube.wavelengths, aviris_band_centres(JASPER_BANDS))
    assert 0.5 < cube.data.max() < 1.2  # / maxValue 5000: reflectance
    np.testing.assert_array_equal(rgb_from_bands(cube.data, cube.wavelengths), cube.data[..., [31, 14, 4]])
    assert int(valid_band_mask(cube.wavelengths).sum()) == 198 - 11
    left, right = split_columns(cube)
    assert left.shape == (100, 50, 198) and right.shape == (100, 50, 198)
    np.testing.assert_array_equal(np.concatenate([left.data, right.data], axis=1), cube.data)
    top, bottom = split_rows(right, 0.3)
    assert top.shape == (30, 50, 198) and bottom.shape == (70, 50, 198)
    np.testing.assert_array_equal(np.concatenate([top.data, bottom.data], axis=0), right.data)
    assert load_remote_cube(JASPER).shape == cube.shape


@pytest.mark.skipif(not (REMOTE / "samson.mat").exists(), reason="shared remote-sensing data not present")
def test_samson_and_urban_loaders():
    samson = load_samson(REMOTE / "samson.mat")
    assert samson.shape == (95, 95, 156) and samson.wavelengths[[0, -1]].tolist() == [401.0, 889.0]
    urban = load_urban(REMOTE / "urban_sub_162.mat")
    assert urban.shape == (34, 78, 162)
    assert urban.wavelengths[0] == pytest.approx(400 + 4 * 2100 / 209)  # bands 1-4 dropped
    with pytest.raises(DataError):
        load_remote_cube(REMOTE / "urban_endmembers.mat", loader="unknown")


def test_split_rows_and_columns_cut_at_the_rounded_fraction_and_refuse_empty_parts():
    from hsinr.cube import Cube

    data = np.arange(5 * 4 * 2, dtype=np.float32).reshape(5, 4, 2)
    cube = Cube(data, np.array([500.0, 600.0]))
    top, bottom = split_rows(cube, 0.4)
    np.testing.assert_array_equal(top.data, data[:2])
    np.testing.assert_array_equal(bottom.data, data[2:])
    left, right = split_columns(cube, 0.75)
    np.testing.assert_array_equal(left.data, data[:, :3])
    np.testing.assert_array_equal(right.data, data[:, 3:])
    np.testing.assert_array_equal(top.wavelengths, cube.wavelengths)
    with pytest.raises(DataError, match="cannot split 5 rows"):
        split_rows(cube, 0.05)
    with pytest.raises(DataError, match="cannot split 4 columns"):
        split_columns(cube, 0.95)


# --------------------------------------------------------------------------------------------------- the command


def test_synthesize_command_writes_cube_abundances_t_and_figures(tmp_path):
    from hsinr.checkpoint import save_checkpoint
    from hsinr.cli import main
    from hsinr.io import read_cube, write_rgb

    torch.manual_seed(0)
    library = tiny_library()
    names = [f"material {i}" for i in range(5)]
    args = {
        "library": library.tolist(),
        "order": 2,
        "cell": 4,
        "widths": [8, 8, 8, 8],
        "library_names": names,
        "library_classes": ["soil", "soil", "vegetation", "built", "shade"],
    }
    model = make({"name": "inss", "args": args})
    wavelengths = np.linspace(400, 1000, 12)
    srf = band_pick_response(wavelengths, wavelengths[[10, 6, 2]])
    save_checkpoint(
        tmp_path / "inss.pt",
        model,
        {"name": "inss", "args": args},
        {"wavelengths": wavelengths.tolist(), "srf": srf.tolist()},
    )
    write_rgb(tmp_path / "in.png", np.random.default_rng(0).random((13, 10, 3)))
    code = main(
        [
            "synthesize",
            str(tmp_path / "in.png"),
            "--model",
            str(tmp_path / "inss.pt"),
            "-o",
            str(tmp_path / "out.h5"),
            "--abundances",
            str(tmp_path / "ab.tif"),
            "--figures",
            str(tmp_path / "figs"),
        ]
    )
    assert code == 0
    cube = read_cube(tmp_path / "out.h5")
    assert cube.shape == (13, 10, 12)
    np.testing.assert_allclose(cube.wavelengths, wavelengths)
    import tifffile

    with tifffile.TiffFile(tmp_path / "ab.tif") as tiff:
        assert [page.description for page in tiff.pages] == names
        pages = np.stack([page.asarray() for page in tiff.pages])
    np.testing.assert_allclose(pages.sum(0), 1.0, atol=1e-5)
    sidecar = json.loads((tmp_path / "out.inss.json").read_text())
    np.testing.assert_allclose(sidecar["t"], model.t.detach().numpy())
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["abundances.png", "false_colour.png", "t.png"]


def test_synthesize_rejects_a_model_without_abundances(tmp_path):
    from hsinr.checkpoint import save_checkpoint
    from hsinr.cli import main
    from hsinr.io import write_rgb
    from hsinr.models.registry import available

    names = [n for n in available() if n != "inss"]
    if not names:
        pytest.skip("no other model registered")
    spec = {"name": names[0], "args": {}}
    try:
        model = make(spec)
    except ConfigError:
        pytest.skip(f"{names[0]} needs arguments")
    save_checkpoint(tmp_path / "other.pt", model, spec, {})
    write_rgb(tmp_path / "in.png", np.zeros((8, 8, 3)))
    assert (
        main(
            [
                "synthesize",
                str(tmp_path / "in.png"),
                "--model",
                str(tmp_path / "other.pt"),
                "-o",
                str(tmp_path / "out.h5"),
            ]
        )
        == 2
    )


@pytest.mark.skipif(not JASPER.exists(), reason="shared remote-sensing data not present")
def test_inss_task_prepares_jasper_ridge_for_the_trainer(tmp_path):
    from hsinr.config import DEFAULTS, deep_merge
    from hsinr.tasks import make_task

    config = deep_merge(
        DEFAULTS,
        {
            "task": "inss",
            "model": {"name": "inss", "args": {"cell": 4, "widths": [8, 8, 8, 8]}},
            "data": {
                "root": str(JASPER),
                "patch_size": 16,
                "patches_per_epoch": 4,
                "library": {"classes": ["vegetation", "soil"], "count": 6},
            },
            "inss": {"lambda_adv": 0.0},
        },
    )
    task = make_task(config, tmp_path)
    spec = task.complete_spec(config["model"])
    args = spec["args"]
    assert len(args["library"]) == 7 and len(args["library"][0]) == 198  # 6 drawn spectra + shade
    assert args["library_names"][-1] == "shade" and not any(args["library"][-1])
    assert set(args["library_classes"][:-1]) <= {"pervious/vegetation/canopy", "pervious/bare/soil"}
    meta = task.meta()
    assert np.argmax(meta["srf"], axis=1).tolist() == [31, 14, 4]
    assert sum(meta["valid_bands"]) == 187
    item = task.train_dataset(0)[0]
    assert item["rgb"].shape == (3, 16, 16) and item["cube"].shape == (198, 16, 16)
    torch.testing.assert_close(item["rgb"], item["cube"][[31, 14, 4]])
    model = make(spec)
    loss, terms = task.loss(model, {k: v[None] for k, v in item.items()})
    assert math.isfinite(float(loss.detach())) and "adv" not in terms
    scores = task.validate(model)
    assert {"psnr", "sam", "rmse"} <= set(scores) and all(math.isfinite(v) for v in scores.values())


def test_inss_task_refuses_a_loss_it_would_not_use(tmp_path):
    from hsinr.config import DEFAULTS, deep_merge
    from hsinr.tasks import make_task

    config = deep_merge(
        DEFAULTS,
        {"task": "inss", "model": {"name": "inss"}, "data": {"root": "jasper.mat"}, "train": {"loss": "mse"}},
    )
    with pytest.raises(ConfigError, match="train.loss 'mse' is not used"):
        make_task(config, tmp_path)
