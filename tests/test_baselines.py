"""Baselines of Table I, MST++, least-squares and colour-science recoveries, and the complexity counters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from hsinr.complexity import MatMul, count_macs, count_parameters, macs_per_pixel
from hsinr.errors import ConfigError, DataError
from hsinr.models import available, make
from hsinr.models.colour_recovery import cie1931_cmfs
from hsinr.models.least_squares import fit_from_pairs, root_polynomial_exponents
from hsinr.models.prinet import group_bands_by_correlation

# Parameter counts of the default configurations (31 bands); docs/models.md quotes the same numbers.
LEARNED = {
    "cnn_fu2018": 341_822,
    "unet_nie2018": 1_926_591,
    "hscnn_r": 1_238_303,
    "mscnn_yan2018": 1_865_375,
    "prinet": 758_239,
    "prinet_plus": 794_247,
    "mst_plus_plus": 1_619_625,
}

NM = np.arange(400.0, 701.0, 10.0)


def _learnable_task(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB noise and its image under a fixed positive 31×3 matrix: a task every model can learn quickly."""
    generator = torch.Generator().manual_seed(seed)
    rgb = torch.rand(2, 3, 16, 16, generator=generator)
    mixing = torch.rand(31, 3, generator=generator) / 3
    return rgb, torch.einsum("cj,njhw->nchw", mixing, rgb)


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_learned_model_shapes_on_odd_sizes_and_batches(name):
    torch.manual_seed(0)
    model = make({"name": name}).eval()
    assert model.input_keys == ("rgb",)
    with torch.no_grad():
        single = model(torch.rand(1, 3, 37, 45))
        assert single.shape == (1, 31, 37, 45)
        assert model(torch.rand(1, 3, 5, 3)).shape == (1, 31, 5, 3)  # smaller than one down-sampling step
        batch = torch.rand(2, 3, 19, 23)
        both = model(batch)
        assert both.shape == (2, 31, 19, 23)
        # images in a batch do not influence each other
        torch.testing.assert_close(both[1:], model(batch[1:]), atol=1e-5, rtol=1e-4)
    assert torch.isfinite(single).all()


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_parameter_counts_are_pinned(name):
    count = count_parameters(make({"name": name}))
    print(f"{name}: {count:,} parameters")
    assert count == LEARNED[name]


def test_mst_plus_plus_matches_its_paper_size_and_needs_matching_width():
    count = count_parameters(make({"name": "mst_plus_plus"}))
    assert abs(count - 1.62e6) <= 0.05 * 1.62e6
    with pytest.raises(ConfigError, match="out_bands == width"):
        make({"name": "mst_plus_plus", "args": {"out_bands": 28}})


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_a_few_adam_steps_lower_the_l1_loss(name):
    torch.manual_seed(0)
    model = make({"name": name})
    rgb, cube = _learnable_task()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        before = (model(rgb) - cube).abs().mean().item()
    for _ in range(12):
        loss = (model(rgb) - cube).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        after = (model(rgb) - cube).abs().mean().item()
    assert after < 0.8 * before, (before, after)


def test_all_baselines_are_registered():
    names = set(available())
    assert set(LEARNED) | {"linear_ls", "root_polynomial_ls", "otsu2018", "jakob2019"} <= names


def test_prinet_groups_cover_the_bands_in_order():
    model = make({"name": "prinet", "args": {"out_bands": 8, "group_sizes": [3, 5], "width": 8}})
    assert model.group_sizes == [3, 5]
    assert model(torch.rand(1, 3, 6, 7)).shape == (1, 8, 6, 7)
    assert make({"name": "prinet_plus", "args": {"out_bands": 10, "width": 16}}).group_sizes == [4, 3, 3]
    with pytest.raises(ConfigError, match="sum to out_bands"):
        make({"name": "prinet", "args": {"group_sizes": [10, 10]}})


def test_band_grouping_finds_blocks_of_correlated_bands():
    # three independent sources, each copied (with a little noise) into a run of bands: 4, 2 and 3 bands
    rng = np.random.default_rng(0)
    sources = rng.random((3, 40, 40))
    bands = [sources[k] + 0.01 * rng.random((40, 40)) for k, size in enumerate((4, 2, 3)) for _ in range(size)]
    cube = np.stack(bands, axis=-1)
    assert group_bands_by_correlation([cube[:20], cube[20:]], groups=3) == [4, 2, 3]


# ----------------------------------------------------------------------------------------------- least squares


def test_linear_least_squares_recovers_an_exact_linear_map():
    rng = np.random.default_rng(1)
    rgb = rng.random((500, 3))
    mapping = rng.normal(size=(3, 31))
    model = make({"name": "linear_ls"}).fit(rgb, rgb @ mapping, ridge=0.0)
    np.testing.assert_allclose(model.matrix.numpy(), mapping, atol=1e-9)
    image = torch.tensor(rgb[:35].T.reshape(1, 3, 5, 7), dtype=torch.float64)
    expected = (rgb[:35] @ mapping).T.reshape(1, 31, 5, 7)
    np.testing.assert_allclose(model(image).numpy(), expected, atol=1e-9)


def test_ridge_shrinks_the_solution_as_the_closed_form_says():
    rng = np.random.default_rng(2)
    rgb = rng.random((400, 3))
    mapping = rng.normal(size=(3, 4))
    model = make({"name": "linear_ls", "args": {"out_bands": 4}}).fit(rgb, rgb @ mapping, ridge=1e-3)
    second_moment = rgb.T @ rgb / len(rgb)
    expected = np.linalg.solve(second_moment + 1e-3 * np.eye(3), second_moment @ mapping)
    np.testing.assert_allclose(model.matrix.numpy(), expected, atol=1e-12)
    assert np.abs(model.matrix.numpy() - mapping).max() > 1e-4  # the ridge did act


def test_linear_least_squares_with_bias_fits_an_affine_map():
    rng = np.random.default_rng(3)
    rgb = rng.random((300, 3))
    cube = rgb @ rng.normal(size=(3, 5)) + np.arange(5.0)
    model = make({"name": "linear_ls", "args": {"out_bands": 5, "bias": True}}).fit(rgb, cube, ridge=0.0)
    np.testing.assert_allclose(model.matrix.numpy()[3], np.arange(5.0), atol=1e-9)


def test_root_polynomial_terms_and_exposure_invariance():
    assert len(root_polynomial_exponents(2)) == 6 and len(root_polynomial_exponents(3)) == 13
    rng = np.random.default_rng(4)
    rgb = rng.random((600, 3)) + 0.05
    r, g, b = rgb.T
    # a spectrum made of root-polynomial terms: degree 2 fits it exactly, a linear map cannot
    cube = np.stack([np.sqrt(r * g), 2 * b - np.sqrt(g * b), np.sqrt(r * b) + r], axis=1)
    model = make({"name": "root_polynomial_ls", "args": {"out_bands": 3}}).fit(rgb, cube, ridge=0.0)
    image = torch.tensor(rgb[:24].T.reshape(1, 3, 4, 6))
    np.testing.assert_allclose(model(image).numpy(), cube[:24].T.reshape(1, 3, 4, 6), atol=1e-9)
    linear = make({"name": "linear_ls", "args": {"out_bands": 3}}).fit(rgb, cube, ridge=0.0)
    assert (linear(image) - model(image)).abs().max() > 1e-3

    cubic = make({"name": "root_polynomial_ls", "args": {"out_bands": 31, "degree": 3}})
    cubic.fit(rgb, rng.random((600, 31)))
    torch.testing.assert_close(cubic(2.5 * image), 2.5 * cubic(image), atol=1e-12, rtol=1e-12)


def test_fit_from_pairs_equals_fitting_all_pixels_at_once():
    rng = np.random.default_rng(5)
    pairs = [(rng.random((4, 5, 3)), rng.random((4, 5, 31))), (rng.random((6, 2, 3)), rng.random((6, 2, 31)))]
    streamed = fit_from_pairs(make({"name": "root_polynomial_ls"}), iter(pairs))
    rgb = np.concatenate([p[0].reshape(-1, 3) for p in pairs])
    cube = np.concatenate([p[1].reshape(-1, 31) for p in pairs])
    at_once = make({"name": "root_polynomial_ls"}).fit(rgb, cube)
    np.testing.assert_allclose(streamed.matrix.numpy(), at_once.matrix.numpy(), atol=1e-10)
    assert streamed.closed_form and count_parameters(streamed) == 0


def test_least_squares_errors_and_checkpoint_round_trip():
    model = make({"name": "linear_ls"})
    with pytest.raises(ConfigError, match="not been fitted"):
        model(torch.rand(1, 3, 2, 2))
    with pytest.raises(DataError, match="pair 0"):
        fit_from_pairs(model, [(np.zeros((2, 2, 3)), np.zeros((2, 2, 30)))])
    with pytest.raises(DataError, match="NaN"):
        model.fit(np.full((3, 3), np.nan), np.zeros((3, 31)))
    with pytest.raises(ConfigError, match="gradient descent"):
        fit_from_pairs(make({"name": "hscnn_r"}), [])
    rng = np.random.default_rng(6)
    model.fit(rng.random((50, 3)), rng.random((50, 31)))
    restored = make({"name": "linear_ls"})
    restored.load_state_dict(model.state_dict())
    image = torch.rand(1, 3, 3, 4)
    torch.testing.assert_close(restored(image), model(image))


# --------------------------------------------------------------------------------------------- colour recovery


def _luther_camera() -> np.ndarray:
    """A camera whose responses are mixtures of the CIE 1931 CMFs (Luther condition), rows normalised to sum 1."""
    mixing = np.array([[0.9, 0.2, 0.0], [0.1, 0.9, 0.1], [0.0, 0.1, 0.9]])
    srf = mixing @ cie1931_cmfs(NM).T
    return srf / srf.sum(axis=1, keepdims=True)


def _smooth_reflectances() -> np.ndarray:
    """Six smooth reflectance-like spectra (values in 0.1–0.9) at 400–700 nm: sigmoids, a bump, a flat grey."""
    edges = [0.1 + 0.8 / (1 + np.exp(-(NM - c) / s)) for c, s in [(500, 20), (600, -30), (550, 15), (650, 25)]]
    bump = 0.2 + 0.6 * np.exp(-0.5 * ((NM - 520) / 40) ** 2)
    return np.array(edges + [bump, np.full(NM.size, 0.5)])


def _as_image(pixels: np.ndarray, height: int, width: int) -> torch.Tensor:
    return torch.tensor(pixels.T.reshape(1, -1, height, width), dtype=torch.float32)


@pytest.mark.parametrize("name", ["otsu2018", "jakob2019"])
def test_colour_recovery_is_non_negative_and_reproduces_the_rgb(name):
    srf = _luther_camera()
    rgb = _smooth_reflectances() @ srf.T
    model = make({"name": name, "args": {"srf": srf.tolist(), "wavelengths": NM.tolist()}})
    assert model.closed_form and count_parameters(model) == 0
    cube = model(_as_image(rgb, 2, 3))
    assert cube.shape == (1, 31, 2, 3)
    assert (cube >= 0).all()
    rendered = cube[0].permute(1, 2, 0).reshape(-1, 31).double().numpy() @ srf.T
    np.testing.assert_allclose(rendered, rgb, rtol=1e-3)


def test_colour_recovery_handles_black_and_over_white_pixels_and_reuses_its_cache():
    srf = _luther_camera()
    reflectances = _smooth_reflectances()
    spectra = np.concatenate([reflectances[:2], np.zeros((1, NM.size)), 2.0 * reflectances[5:6]])
    rgb = spectra @ srf.T
    model = make({"name": "otsu2018", "args": {"srf": srf.tolist(), "wavelengths": NM.tolist(), "out_bands": 31}})
    cube = model(_as_image(rgb, 2, 2))[0].permute(1, 2, 0).reshape(-1, 31).double().numpy()
    assert np.all(cube[2] == 0)  # black stays black
    # a grey twice as bright as a perfect white is recovered at Y = 1 and scaled back: not clipped to reflectance 1
    assert abs(cube[3].mean() - 1.0) < 0.05
    np.testing.assert_allclose(cube[3] @ srf.T, rgb[3], rtol=1e-3)
    cached = len(model._cache)
    model(_as_image(rgb, 2, 2))
    assert len(model._cache) == cached
    assert fit_from_pairs(model, []) is model


def test_colour_recovery_quantisation_error_is_small():
    srf = _luther_camera()
    rgb = _smooth_reflectances() @ srf.T
    args = {"srf": srf.tolist(), "wavelengths": NM.tolist()}
    coarse = make({"name": "otsu2018", "args": {**args, "bits": 6}})(_as_image(rgb, 3, 2))
    fine = make({"name": "otsu2018", "args": {**args, "bits": 14}})(_as_image(rgb, 3, 2))
    # 6-bit codes change the spectra by ~1.3 % on average here (1.6 % on a CAVE crop, see docs/models.md)
    assert (coarse - fine).abs().mean() < 0.02 * fine.abs().mean()
    assert (coarse - fine).abs().mean() > 0  # the two grids really differ


def test_colour_recovery_rejects_inconsistent_arguments():
    srf = _luther_camera()
    with pytest.raises(ConfigError, match="srf must be"):
        make({"name": "otsu2018", "args": {"srf": srf[:2].tolist(), "wavelengths": NM.tolist()}})
    with pytest.raises(ConfigError, match="out_bands=30"):
        make({"name": "otsu2018", "args": {"srf": srf.tolist(), "wavelengths": NM.tolist(), "out_bands": 30}})
    model = make({"name": "otsu2018", "args": {"srf": srf.tolist(), "wavelengths": NM.tolist()}})
    with pytest.raises(DataError, match="NaN"):
        model(torch.full((1, 3, 2, 2), float("nan")))


# -------------------------------------------------------------------------------------------------- complexity


def test_complexity_of_a_two_layer_conv_net_matches_a_hand_count():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 31, 1))
    net.input_keys = ("rgb",)
    assert count_parameters(net) == (8 * 3 * 9 + 8) + (31 * 8 + 31)  # 503
    assert macs_per_pixel(net, 10, 12) == 8 * 3 * 9 + 31 * 8  # 464 per output pixel, any size
    strided = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ConvTranspose2d(4, 5, 2, stride=2))
    # 4×4 outputs × 4 channels × 27 + 4×4 inputs × 4 channels × 5 × 4 taps, over 8×8 pixels
    assert macs_per_pixel(strided, 8, 8) == (16 * 4 * 27 + 16 * 4 * 5 * 4) / 64


def test_complexity_counts_linear_matmul_and_extra_macs():
    class Toy(nn.Module):
        input_keys = ("rgb",)

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 7)
            self.product = MatMul()

        def forward(self, rgb):
            tokens = self.linear(rgb.flatten(2).transpose(1, 2))  # (N, HW, 7)
            return self.product(tokens.transpose(1, 2), tokens)  # (N, 7, 7)

        def extra_macs(self, height, width):
            return 100

    image = torch.zeros(1, 3, 4, 5)
    assert count_macs(Toy(), (image,)) == 20 * 3 * 7 + 7 * 20 * 7 + 100
    with pytest.raises(ConfigError, match="RGB model"):
        macs_per_pixel(type("Fusion", (nn.Module,), {"input_keys": ("lr_hsi", "hr_msi")})())
