"""The one tiler (:mod:`hsinr.infer.tiling`) and the inference entries built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from hsinr.errors import ConfigError
from hsinr.infer import reconstruct
from hsinr.infer.tiling import ArrayWriter, blend_ramp, tile_blended, tile_spans


class TwoConvs(nn.Module):
    """Two 3×3 convolutions with zero padding: receptive radius 2 pixels."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 5, 3, padding=1))
        self.out_bands = 5

    def forward(self, x):
        return self.net(x)


def whole(model, rgb):
    with torch.no_grad():
        return model(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()


def test_tile_spans_cover_the_axis_and_keep_origins_aligned():
    spans = tile_spans(100, 32, 8, align=4)
    assert spans[0] == (0, 32) and spans[-1][1] == 100
    assert all(start % 4 == 0 for start, _ in spans)
    # neighbours overlap by at least 8 px
    assert all(b[0] < a[1] - 7 for a, b in zip(spans[:-1], spans[1:], strict=True))
    assert tile_spans(20, 32, 8) == [(0, 20)]


def test_blend_ramp_is_zero_near_inner_edges_and_positive_in_sum():
    ramp = blend_ramp(32, 16, True, True)
    assert ramp[:4].max() == 0 and ramp[-4:].max() == 0 and ramp[12:20].min() == 1
    assert blend_ramp(32, 16, False, False).min() == 1  # image borders are never weighted down
    spans = tile_spans(100, 32, 16)
    total = np.zeros(100)
    for start, stop in spans:
        total[start:stop] += blend_ramp(stop - start, 16, start > 0, stop < 100)
    assert total.min() > 0


def test_blended_reconstruct_equals_a_whole_image_pass_when_overlap_covers_the_radius():
    model = TwoConvs().eval()
    rgb = np.random.default_rng(0).random((70, 90, 3)).astype(np.float32)
    expected = whole(model, rgb)
    np.testing.assert_allclose(reconstruct(rgb, model, tile=32, overlap=8, progress=False), expected, atol=1e-5)
    feathered = reconstruct(rgb, model, tile=32, overlap=4, progress=False)  # overlap/4 = 1 < radius 2: seams
    assert np.abs(feathered - expected).max() > 1e-4


def test_blended_tiler_streams_each_row_once_to_a_writer():
    model = TwoConvs().eval()
    rgb = np.random.default_rng(1).random((75, 40, 3)).astype(np.float32)
    writes = []

    class Recorder(ArrayWriter):
        def write(self, y0, x0, block):
            writes.append((y0, block.shape[0]))
            super().write(y0, x0, block)

    sink = Recorder(75, 40, 5)
    assert reconstruct(rgb, model, tile=24, overlap=8, writer=sink, progress=False) is None
    rows = np.concatenate([np.arange(y0, y0 + n) for y0, n in writes])
    np.testing.assert_array_equal(np.sort(rows), np.arange(75))  # every row exactly once
    assert len(writes) > 1  # streamed strip by strip
    np.testing.assert_allclose(sink.array, whole(model, rgb), atol=1e-5)


def test_overlap_must_be_smaller_than_the_tile():
    with pytest.raises(ConfigError, match="overlap"):
        tile_blended(10, 10, 8, 8, lambda *a: np.zeros((1, 1, 1)), ArrayWriter(10, 10, 1))


def test_synthesize_is_one_pass_for_small_images_and_tiles_larger_ones(tmp_path):
    import hsinr
    from hsinr.checkpoint import save_checkpoint
    from hsinr.models import make

    library = (0.1 + 0.8 * np.random.default_rng(0).random((5, 12))).tolist()
    spec = {"name": "inss", "args": {"library": library, "order": 2, "cell": 4, "widths": [4, 4, 4, 4]}}
    torch.manual_seed(0)
    model = make(spec).eval()
    save_checkpoint(tmp_path / "inss.pt", model, spec, {"task": "inss"})
    rgb = np.random.default_rng(2).random((40, 56, 3)).astype(np.float32)
    result = hsinr.synthesize(rgb, str(tmp_path / "inss.pt"))  # 40x56 <= the default tile: one pass
    with torch.no_grad():
        cube, abundances, t = model.forward_with_abundances(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])
    np.testing.assert_allclose(result.cube, cube[0].permute(1, 2, 0).numpy(), atol=1e-5)
    np.testing.assert_allclose(result.t, t.detach().numpy(), atol=1e-6)
    tiled = hsinr.synthesize(rgb, model, tile=16, overlap=8)
    assert tiled.cube.shape == (40, 56, 12) and tiled.abundances.shape == (40, 56, 5)
    np.testing.assert_allclose(tiled.abundances.sum(axis=2), 1.0, atol=1e-5)  # blending keeps a partition of unity
    assert np.abs(tiled.cube - result.cube).max() > 0  # really tiled (the U-Net sees less context per tile)
