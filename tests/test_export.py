"""ONNX export: dynamic batch/height/width, the graph reproduces PyTorch, checkpoint metadata travels with it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

from hsinr.checkpoint import save_checkpoint
from hsinr.cli import main
from hsinr.cube import default_wavelengths
from hsinr.errors import ConfigError
from hsinr.export import export_onnx, onnx_metadata
from hsinr.models import make

onnxruntime = pytest.importorskip("onnxruntime")

TINY_INR = {
    "name": "inr_hsisr",
    "args": {
        "hyper_width": 16,
        "hyper_blocks": 1,
        "stem_width": 8,
        "mlp_width": 16,
        "mlp_hidden_layers": 2,
        "frequencies": 2,
        "norm_window": 3,
        "cell_size": 8,
    },
}
SMALL_MST = {"name": "mst_plus_plus", "args": {"out_bands": 8, "width": 8, "stages": 1}}
# (batch, height, width): a multiple of every padding factor, sizes that are not, and a second batch size
SIZES = [(1, 64, 64), (2, 40, 56), (1, 37, 45)]


def run_onnx(path, rgb: torch.Tensor) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["cube"], {"rgb": rgb.numpy()})[0]


def assert_matches_pytorch(model, path, bands):
    generator = torch.Generator().manual_seed(1)
    for batch, height, width in SIZES:
        rgb = torch.rand(batch, 3, height, width, generator=generator)
        with torch.no_grad():
            expected = model(rgb).numpy()
        got = run_onnx(path, rgb)
        assert got.shape == expected.shape == (batch, bands, height, width)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_checkpoint_export_from_the_command_line_matches_pytorch_at_any_size(tmp_path, capsys):
    torch.manual_seed(0)
    model = make(TINY_INR).eval()
    wavelengths = default_wavelengths(31).tolist()
    srf = np.full((3, 31), 1 / 31).tolist()
    save_checkpoint(tmp_path / "inr.pt", model, TINY_INR, {"wavelengths": wavelengths, "srf": srf})
    out = tmp_path / "inr.onnx"
    assert main(["export", str(tmp_path / "inr.pt"), "-o", str(out), "--opset", "17"]) == 0
    printed = capsys.readouterr().out
    assert "checked 2x3x41x57" in printed and "opset 17" in printed
    assert_matches_pytorch(model, out, 31)
    metadata = onnx_metadata(out)
    assert metadata["hsinr_spec"] == TINY_INR
    assert metadata["wavelengths"] == wavelengths and np.asarray(metadata["srf"]).shape == (3, 31)


def test_mst_plus_plus_exports_with_dynamic_sizes(tmp_path):
    torch.manual_seed(0)
    model = make(SMALL_MST).eval()
    record = export_onnx(model, tmp_path / "mst.onnx")
    assert [c["height"] for c in record["checks"]] == [64, 41]
    assert all(c["max_abs_diff"] <= c["tolerance"] for c in record["checks"])
    assert_matches_pytorch(model, tmp_path / "mst.onnx", 8)


def trained_looking_recipe(**args) -> nn.Module:
    """``prior_residual`` over a tiny INR with exact RGB consistency and ``args``, its prior fitted to random spectra
    and its residual moved away from zero (as after training), in eval mode."""
    torch.manual_seed(0)
    srf = np.abs(np.random.default_rng(0).normal(size=(3, 31)))
    spec = {"name": "prior_residual", "args": {"residual": TINY_INR, "consistency": True, "srf": srf.tolist(), **args}}
    model = make(spec).eval()
    cube = np.random.default_rng(1).uniform(0.05, 1, size=(32, 32, 31)).astype(np.float32)
    model.fit_prior([(cube @ srf.T.astype(np.float32), cube)])
    with torch.no_grad():
        for p in model.residual.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def test_the_recipe_with_consistency_and_an_exposure_invariant_residual_exports(tmp_path):
    """The recommended parameterisation (least-squares prior + residual, exact RGB consistency, exposure-invariant
    residual) exports, and the graph reproduces PyTorch at every size."""
    model = trained_looking_recipe(exposure_invariant=True)
    export_onnx(model, tmp_path / "recipe.onnx")
    assert_matches_pytorch(model, tmp_path / "recipe.onnx", 31)


def test_the_anchored_regression_exports_in_one_piece(tmp_path):
    """``anchored_ls`` computes its anchor similarities a block of rows at a time in PyTorch; the exported graph
    does them at once, so it does not depend on the image size."""
    model = make({"name": "anchored_ls", "args": {"out_bands": 8, "anchors": 4, "neighbours": 200}}).eval()
    rng = np.random.default_rng(2)
    rgb = rng.uniform(0.01, 1, (30, 30, 3)).astype(np.float32)
    model.fit_prior([(rgb, np.concatenate([rgb, rgb**2, np.sqrt(rgb)[..., :2]], axis=-1))])
    export_onnx(model, tmp_path / "anchored.onnx")
    assert_matches_pytorch(model, tmp_path / "anchored.onnx", 8)


def test_the_recipe_blended_with_anchored_regression_exports(tmp_path):
    """``blend`` (the recipe's average with anchored regression at inference) is computed a few rows at a time in
    PyTorch and in one piece in the exported graph, which reproduces PyTorch at every size; the export prints none
    of torch's tracing diagnostics (the recipe's reflection padding makes it say it cannot fold reversed slices)."""
    anchored = {"name": "anchored_ls", "args": {"anchors": 4, "neighbours": 200}}
    as_in_the_recipe = {"name": "inr_hsisr", "args": {**TINY_INR["args"], "norm": "local", "padding": "reflect"}}
    model = trained_looking_recipe(blend=anchored, blend_weight=0.2, residual=as_in_the_recipe)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_onnx(model, tmp_path / "blended.onnx")
    assert_matches_pytorch(model, tmp_path / "blended.onnx", 31)
    assert not [str(w.message) for w in caught if "onnx" in str(w.filename).lower()]  # torch's tracing diagnostics


class SizeBakedModel(nn.Module):
    """Multiplies by the image width through a Python float: tracing freezes the width into the graph."""

    input_keys = ("rgb",)
    out_bands = 1

    def forward(self, rgb):
        return rgb.mean(dim=1, keepdim=True) * float(rgb.shape[-1])


def test_a_graph_that_does_not_generalise_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ConfigError, match=r"baked\.onnx: .* does not generalise"):
        export_onnx(SizeBakedModel(), tmp_path / "baked.onnx")
    assert list(tmp_path.iterdir()) == []


def test_fusion_models_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="RGB"):
        export_onnx(make({"name": "bicubic_fusion"}), tmp_path / "fusion.onnx")
