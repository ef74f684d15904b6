"""INR-HSISR model: encoding values, shapes, parameter count, gradients, tiling equivalence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hsinr.infer import reconstruct
from hsinr.models import make
from hsinr.models.inr_hsisr import encoding_channels, encoding_frequencies, periodic_encoding

SMALL = {
    "hyper_width": 16,
    "hyper_blocks": 2,
    "stem_width": 8,
    "mlp_width": 8,
    "mlp_hidden_layers": 2,
    "norm_window": 3,
    "frequencies": 2,
}


def small(**overrides):
    torch.manual_seed(0)
    return make({"name": "inr_hsisr", "args": {**SMALL, **overrides}}).eval()


def test_periodic_encoding_matches_eq7_by_hand():
    x, y = torch.tensor([0.25]), torch.tensor([0.5])
    enc = periodic_encoding(x, y, encoding_frequencies(2, 4, "paper"))[:, 0]  # ω_k = 2^k π
    expected = [
        math.cos(math.pi * 0.25),
        math.sin(math.pi * 0.25),
        math.cos(math.pi * 0.5),
        math.sin(math.pi * 0.5),
        math.cos(2 * math.pi * 0.25),
        math.sin(2 * math.pi * 0.25),
        math.cos(2 * math.pi * 0.5),
        math.sin(2 * math.pi * 0.5),
    ]
    np.testing.assert_allclose(enc.numpy(), expected, atol=1e-7)
    raw = periodic_encoding(x, y, [])[:, 0]
    np.testing.assert_allclose(raw.numpy(), [0.25, 0.5])
    assert encoding_channels(5) == 20 and encoding_channels(0) == 2


def test_cell_coordinates_are_pixel_centres_inside_the_cell():
    model = small(cell_size=4, frequencies=0)
    inputs = model.pixel_inputs(torch.zeros(1, 3, 8, 8))
    # channels 3, 4 are raw x, y; within each 4-pixel cell: (i + 0.5) / 4
    np.testing.assert_allclose(inputs[0, 3, 0, :].numpy(), [0.125, 0.375, 0.625, 0.875] * 2)
    np.testing.assert_allclose(inputs[0, 4, :, 0].numpy(), [0.125, 0.375, 0.625, 0.875] * 2)


def test_image_coordinates_follow_each_call_size():
    model = small(coords="image", frequencies=0)
    a = model.pixel_inputs(torch.zeros(1, 3, 4, 4))
    b = model.pixel_inputs(torch.zeros(1, 3, 8, 8))
    np.testing.assert_allclose(a[0, 3, 0].numpy(), [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(b[0, 3, 0].numpy(), (np.arange(8) + 0.5) / 8)


@pytest.mark.parametrize("cell", [2, 4, 8])
@pytest.mark.parametrize("size", [(37, 45), (64, 64), (1, 1), (17, 3)])
def test_any_size_and_batch(cell, size):
    model = small(cell_size=cell, out_bands=7)
    with torch.no_grad():
        out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 7, *size)
    assert torch.isfinite(out).all()


def test_paper_configuration_has_the_papers_parameter_count():
    """Table II: 64.8-64.9 M parameters; we accept +-3 % of 64.9 M."""
    model = make({"name": "inr_hsisr", "args": {"cell_size": 4, "frequencies": 5}})
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - 64.9e6) / 64.9e6 < 0.03, count
    # 15,263 MLP parameters per cell with 2 frequencies (11 -> 64 x4 -> 31), 16,031 with 5
    assert model.mlp_parameters == 16031
    assert (
        make(
            {"name": "inr_hsisr", "args": {**SMALL, "frequencies": 2, "mlp_width": 64, "mlp_hidden_layers": 4}}
        ).mlp_parameters
        == 15263
    )


def test_gradients_reach_the_hypernetwork():
    model = small().train()
    out = model(torch.rand(2, 3, 16, 16))
    out.abs().mean().backward()
    for name in (
        "stem.weight",
        "down.0.weight",
        "lift.weight",
        "blocks.0.weight",
        "norms.0.gamma.weight",
        "head.weight",
    ):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_each_cell_uses_its_own_mlp():
    """Changing the predicted parameters of one cell changes exactly that cell's pixels."""
    model = small(cell_size=4)
    rgb = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        theta = model.hypernetwork(rgb)
        inputs = model.pixel_inputs(rgb)
        base = model.evaluate_mlps(inputs, theta)
        theta[0, 1, 0, :] += 1.0  # cell row 1, column 0 -> pixels rows 4..7, cols 0..3
        changed = (model.evaluate_mlps(inputs, theta) - base).abs().sum(1)[0]
    assert (changed[4:, :4] > 0).all()
    changed[4:, :4] = 0
    assert changed.sum() == 0


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_images_smaller_than_two_cells(padding):
    """Any size from one pixel up comes back at its own size: reflection padding, which cannot reflect a one-cell
    map, gets the input replicated up to two cells first; sizes with two cells or more keep their result."""
    model = small(padding=padding, cell_size=4)
    with torch.no_grad():
        for height, width in ((1, 1), (1, 9), (5, 5), (3, 50), (17, 3)):
            out = model(torch.rand(1, 3, height, width))
            assert out.shape == (1, 31, height, width) and torch.isfinite(out).all()
        # the padded size each input is computed at: multiples of the 4-px cell, at least two cells with reflection
        for height, width, padded_height, padded_width in (
            (9, 10, 12, 12),
            (3, 5, 8 if padding == "reflect" else 4, 8),
        ):
            rgb = torch.rand(1, 3, height, width)
            padded = F.pad(rgb, (0, padded_width - width, 0, padded_height - height), mode="replicate")
            torch.testing.assert_close(model(rgb), model(padded)[..., :height, :width])


@pytest.mark.parametrize("norm", ["local", "none"])
def test_tiled_reconstruction_equals_whole_image(norm):
    """Exact halo tiling: max |tiled - whole| below 1e-4 (float32 rounding of convolutions of other sizes)."""
    model = small(norm=norm, cell_size=4)
    rng = np.random.default_rng(0)
    rgb = rng.random((77, 91, 3), dtype=np.float32)
    with torch.no_grad():
        whole = model(torch.from_numpy(rgb.transpose(2, 0, 1))[None])[0].permute(1, 2, 0).numpy()
    tiled = reconstruct(rgb, model, tile=24, progress=False)
    assert model.receptive_radius() < 77  # the tiles really are smaller than the image with their halo
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


@pytest.mark.parametrize("coords", ["cell", "image"])
def test_core_output_equals_the_crop_of_the_full_output(coords):
    """``forward(..., core=...)`` skips the halo's head and MLPs but returns exactly the crop of the full output,
    also for a core that ends inside a padded cell."""
    model = small(cell_size=4, coords=coords)
    rgb = torch.rand(1, 3, 37, 45)
    with torch.no_grad():
        full = model(rgb, origin=(8, 12), full_size=(60, 70))
        core = model(rgb, origin=(8, 12), full_size=(60, 70), core=(8, 12, 29, 30))
    assert core.shape == (1, 31, 29, 30)
    torch.testing.assert_close(core, full[..., 8:37, 12:42], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="cell grid"):
        model(rgb, core=(2, 0, 8, 8))


def test_inference_in_bands_of_cell_rows_equals_one_pass(monkeypatch):
    """Without autograd the head and MLPs run on bands of cell rows (bounded memory): same output as one pass."""
    import hsinr.models.inr_hsisr as inr

    model = small(cell_size=4)
    rgb = torch.rand(1, 3, 37, 45)
    with torch.no_grad():
        whole = model(rgb, core=(4, 8, 30, 33))
        monkeypatch.setattr(inr, "MLP_CHUNK_PIXELS", 3 * 4 * 48)  # three cell rows of the 48-px-wide region
        banded = model(rgb, core=(4, 8, 30, 33))
    torch.testing.assert_close(banded, whole, atol=1e-6, rtol=0)


def test_image_coordinates_tile_exactly_too():
    model = small(coords="image", cell_size=2)
    rgb = np.random.default_rng(1).random((40, 52, 3), dtype=np.float32)
    with torch.no_grad():
        whole = model(torch.from_numpy(rgb.transpose(2, 0, 1))[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(reconstruct(rgb, model, tile=16, progress=False), whole, atol=1e-4)


def test_instance_norm_has_no_bounded_receptive_field():
    assert small(norm="instance").receptive_radius() is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        small(cell_size=3)
    with pytest.raises(ValueError):
        small(norm_window=4)


def test_mlp_rgb_input_is_the_pixel_colour_times_the_gain():
    model = small(rgb_gain=5.0)
    rgb = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(model.pixel_inputs(rgb)[:, :3], 5.0 * rgb)


def test_the_head_is_a_one_by_one_convolution_emitted_channels_last():
    """θ of every cell is the 1×1 convolution of its features (eq. 10), laid out ``(N, h, w, P)``."""
    model = small(cell_size=4)
    features = torch.randn(2, model.head.in_channels, 3, 5)
    with torch.no_grad():
        theta = model.head_parameters(features)
        conv = F.conv2d(features, model.head.weight * model.head_multiplier, model.head.bias)
    assert theta.shape == (2, 3, 5, model.mlp_parameters) and theta.is_contiguous()
    torch.testing.assert_close(theta, conv.permute(0, 2, 3, 1), rtol=1e-5, atol=1e-6)
