"""Anchored neighbourhood regression (``anchored_ls``): one root-polynomial map per colour direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsinr.checkpoint import load_checkpoint, save_checkpoint
from hsinr.errors import ConfigError
from hsinr.models import make
from hsinr.models.anchored_regression import spherical_kmeans, unit_directions
from hsinr.models.least_squares import fit_from_pairs

BANDS = 8
SPEC = {"name": "anchored_ls", "args": {"out_bands": BANDS, "anchors": 2, "neighbours": 500, "shrinkage": 0.0}}


def two_materials(seed: int = 0, pixels: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Reddish and bluish pixels (two colour directions), each family with its own *linear* RGB → spectrum map, so
    one global root-polynomial map cannot fit both and two anchored maps fit each exactly. Returns ``(rgb, cube)``
    images ``(pixels/40, 40, ·)``."""
    maps = np.random.default_rng(100).uniform(0, 1, (2, 3, BANDS))  # the materials: the same for every seed
    rng = np.random.default_rng(seed)
    family = rng.integers(0, 2, pixels)
    base = np.where(family[:, None] == 0, [0.8, 0.15, 0.05], [0.05, 0.2, 0.75])
    rgb = base * rng.uniform(0.2, 1.0, (pixels, 1)) + rng.uniform(0, 0.02, (pixels, 3))  # brightness and a spread
    cube = np.einsum("pc,pcb->pb", rgb, maps[family])
    return rgb.reshape(-1, 40, 3).astype(np.float32), cube.reshape(-1, 40, BANDS).astype(np.float32)


def as_batch(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]


def predict(model, rgb: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(as_batch(rgb))[0].numpy().transpose(1, 2, 0)


def fitted(spec=SPEC, seed: int = 0):
    model = make(spec)
    model.fit_prior([two_materials(seed)])
    return model


def test_two_colour_families_get_their_own_maps_where_one_global_map_cannot_fit_both():
    model = fitted()
    rgb, cube = two_materials(seed=1)  # other pixels of the same two materials
    global_ls = fit_from_pairs(make({"name": "root_polynomial_ls", "args": {"out_bands": BANDS}}), [two_materials(0)])
    anchored_error = np.abs(predict(model, rgb) - cube).max()
    global_error = np.abs(predict(global_ls, rgb) - cube).max()
    assert anchored_error < 1e-4 and global_error > 100 * anchored_error
    directions = model.anchor_directions.numpy()
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-9)
    assert {int(np.argmax(d)) for d in directions} == {0, 2}  # one reddish, one bluish anchor


def test_exposure_invariance_reproducible_fit_and_row_blocks():
    model = fitted()
    rgb, _ = two_materials(seed=2)
    np.testing.assert_allclose(predict(model, 3.0 * rgb), 3.0 * predict(model, rgb), rtol=1e-5, atol=1e-6)
    again = fitted()
    assert torch.equal(again.maps, model.maps) and torch.equal(again.anchor_directions, model.anchor_directions)
    image = as_batch(rgb)  # 100 x 40: row blocks of 7 leave a remainder
    assert torch.equal(model.nearest_anchor(image, rows=7), model.nearest_anchor(image, rows=1000))


def test_shrinkage_pulls_every_anchor_to_the_global_map():
    spec = {"name": "anchored_ls", "args": {**SPEC["args"], "shrinkage": 1e6}}
    model = fitted(spec)
    for anchor_map in model.maps:
        torch.testing.assert_close(anchor_map, model.global_map.matrix, rtol=0, atol=1e-5)


def test_checkpoint_round_trip_and_user_errors(tmp_path):
    model = fitted()
    save_checkpoint(tmp_path / "anchored.pt", model, SPEC, {})
    restored = load_checkpoint(tmp_path / "anchored.pt")[0]
    rgb, _ = two_materials(seed=3)
    np.testing.assert_array_equal(predict(restored, rgb), predict(model, rgb))
    with pytest.raises(ConfigError, match="has not been fitted"):
        make(SPEC)(as_batch(rgb))
    with pytest.raises(ConfigError, match="must be ≥ 1"):
        make({"name": "anchored_ls", "args": {"anchors": 0}})
    with pytest.raises(ConfigError, match="must be ≥ 0"):
        make({"name": "anchored_ls", "args": {"shrinkage": -1}})


def test_spherical_kmeans_finds_separated_directions():
    rng = np.random.default_rng(0)
    truth = unit_directions(np.array([[1.0, 0.1, 0.1], [0.1, 1.0, 0.1], [0.1, 0.1, 1.0]]))
    points = unit_directions(np.repeat(truth, 200, axis=0) + rng.normal(0, 0.02, (600, 3)))
    centres = spherical_kmeans(points, 3, seed=0)
    assert np.sort(np.max(centres @ truth.T, axis=0)).min() > 0.999  # each true direction has a centre on it


def test_prior_residual_over_the_anchored_prior_starts_exactly_at_it():
    spec = {
        "name": "prior_residual",
        "args": {
            "out_bands": BANDS,
            "prior": {"name": "anchored_ls", "args": SPEC["args"]},
            "residual": {"name": "hscnn_r", "args": {"width": 8, "blocks": 1}},
        },
    }
    model = make(spec).eval()
    model.fit_prior([two_materials(0)])
    rgb, _ = two_materials(seed=4)
    np.testing.assert_allclose(predict(model, rgb), predict(model.prior, rgb), atol=1e-6)
    with pytest.raises(ConfigError, match="not a closed-form model"):
        make({**spec, "args": {**spec["args"], "prior": {"name": "hscnn_r"}}})
