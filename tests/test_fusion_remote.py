"""Fusion on remote-sensing cubes: discovery (``data.kind: remote``), regions of one scene, band-average responses."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from hsinr import metrics
from hsinr.config import load_config
from hsinr.cube import Cube, default_wavelengths
from hsinr.data.fusion_scenes import FusionScenes, remote_items, split_region
from hsinr.errors import ConfigError, DataError
from hsinr.io import write_cube
from hsinr.spectral.degradation import (
    LANDSAT8_OLI_BANDS,
    band_average_response,
    blur_downsample,
    fusion_response,
    simulate_pair,
    upsample_bicubic,
)

SAMSON_NM = np.linspace(401.0, 889.0, 40)  # what the Samson loader assigns to a 40-band file


def smooth_cube(height: int, width: int, bands: int, seed: int = 0) -> np.ndarray:
    """Positive cube in (0.1, 0.9): two spectra mixed by a random blocky abundance map."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, bands)
    spectra = np.stack([0.2 + 0.6 * x, 0.8 - 0.6 * x**2])
    blocks = rng.random((height // 4 + 1, width // 4 + 1))
    mix = np.kron(blocks, np.ones((4, 4)))[:height, :width]
    return (mix[..., None] * spectra[0] + (1 - mix[..., None]) * spectra[1]).astype(np.float32)


def write_samson_like(path, cube: np.ndarray) -> None:
    """Samson's layout: ``Y`` (bands, pixels), pixels unfolded column-major from a square image."""
    height, width, bands = cube.shape
    scipy.io.savemat(path, {"Y": cube.transpose(2, 0, 1).reshape(bands, height * width, order="F")})


def write_jasper_like(path, cube: np.ndarray, band_numbers) -> None:
    """Jasper Ridge's layout: uint16 ``Y`` (bands, pixels) ÷ ``maxValue``, 1-based AVIRIS ``SlectBands``."""
    height, width, bands = cube.shape
    counts = np.round(cube * 5000).astype(np.uint16).transpose(2, 0, 1).reshape(bands, height * width, order="F")
    scipy.io.savemat(
        path,
        {
            "Y": counts,
            "SlectBands": np.asarray(band_numbers, dtype=np.float64)[:, None],
            "maxValue": np.array([[5000.0]]),
        },
    )


def test_remote_items_finds_cubes_and_skips_other_files(tmp_path):
    write_samson_like(tmp_path / "samson_small.mat", smooth_cube(8, 8, 6))
    write_jasper_like(tmp_path / "jasper_small.mat", smooth_cube(8, 8, 5), [10, 20, 30, 40, 50])
    scipy.io.savemat(tmp_path / "jasper_ridge_endmembers.mat", {"M0": np.ones((5, 4))})
    scipy.io.savemat(tmp_path / "notes.mat", {"Y": np.ones((5, 64))})  # no loader's word in the name
    assert [name for name, _ in remote_items(tmp_path)] == ["jasper_small", "samson_small"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no remote-sensing cube"):
        remote_items(tmp_path / "empty")
    with pytest.raises(DataError, match="does not exist"):
        remote_items(tmp_path / "missing")


def test_split_region_columns_rows_and_rounding():
    cube = np.arange(5 * 7, dtype=np.float32).reshape(5, 7, 1)
    halves = split_region(cube, "columns", 0.5)  # 3.5 → 4 columns (half up), 3 left over
    assert halves["left"].shape == (5, 4, 1) and halves["right"].shape == (5, 3, 1)
    assert halves["right"][0, 0, 0] == 4.0 and np.shares_memory(halves["left"], cube)
    rows = split_region(cube, "rows", 0.4)  # 2 rows on top
    assert rows["top"].shape == (2, 7, 1) and rows["bottom"][0, 0, 0] == 14.0
    with pytest.raises(ConfigError, match="empty region"):
        split_region(cube, "columns", 0.05)
    with pytest.raises(ConfigError, match="columns' or 'rows"):
        split_region(cube, "diagonal", 0.5)


def test_band_average_response_uses_the_landsat_bands_inside_the_cube_range():
    response = fusion_response("band_average", SAMSON_NM)  # 401-889 nm: no SWIR
    assert response.srf.shape == (5, 40) and "coastal/blue/green/red/nir" in response.name
    for row, (low, high) in zip(response.srf, list(LANDSAT8_OLI_BANDS.values())[:5], strict=True):
        inside = (SAMSON_NM >= low) & (SAMSON_NM <= high)
        np.testing.assert_allclose(row[inside], 1.0 / inside.sum())  # a box average of the covered bands
        assert np.all(row[~inside] == 0)
    explicit = fusion_response({"centres": [500, 800], "widths": [100, 50]}, SAMSON_NM)
    np.testing.assert_array_equal(explicit.srf, band_average_response(SAMSON_NM, [500, 800], [100, 50]))
    with pytest.raises(ConfigError, match="no Landsat 8 OLI band"):
        fusion_response("band_average", np.linspace(1000, 1100, 11))
    with pytest.raises(ConfigError, match="centres and widths"):
        fusion_response({"centres": [500]}, SAMSON_NM)


def test_folder_scenes_become_disjoint_regions(tmp_path):
    cube = smooth_cube(16, 20, 31)
    write_cube(tmp_path / "a.h5", Cube(cube, default_wavelengths(31)))
    scenes = FusionScenes(
        {"regions": {"axis": "columns", "fraction": 0.25}}, "folder", tmp_path, default_wavelengths(31)
    )
    assert scenes.names == ["a_left", "a_right"]
    np.testing.assert_array_equal(scenes.cube("a_left"), cube[:, :5])
    np.testing.assert_array_equal(scenes.cube("a_right"), cube[:, 5:])
    with pytest.raises(ConfigError, match="not in the dataset"):
        scenes.cube("a")  # the whole scene is not a scene any more


def test_remote_scenes_of_different_sensors_are_refused(tmp_path):
    write_samson_like(tmp_path / "samson_small.mat", smooth_cube(8, 8, 6))
    write_jasper_like(tmp_path / "jasper_small.mat", smooth_cube(8, 8, 5), [10, 20, 30, 40, 50])
    with pytest.raises(DataError, match="different band centres"):
        FusionScenes({}, "remote", tmp_path, default_wavelengths(31))
    only = FusionScenes({"scenes": ["jasper_small"]}, "remote", tmp_path, default_wavelengths(31))
    np.testing.assert_allclose(only.wavelengths, 365 + 9.6 * (np.array([10, 20, 30, 40, 50]) - 1))


def remote_config(root, **data) -> dict:
    config = load_config(
        None,
        [
            "task=fusion",
            "data.kind=remote",
            f"data.root={root}",
            "data.response=band_average",
            "data.regions={axis: columns, fraction: 0.5}",
            "data.patch_size=16",
            "data.patches_per_epoch=4",
            "train.batch_size=2",
            "train.epochs=1",
            "train.device=cpu",
            "train.val_tile=64",
        ],
    )
    config["data"].update(data)
    return config


def test_fusion_task_trains_left_and_evaluates_right_of_one_remote_cube(tmp_path):
    from hsinr.checkpoint import load_checkpoint
    from hsinr.tasks import make_task
    from hsinr.train import train

    cube = smooth_cube(48, 48, 40)
    write_samson_like(tmp_path / "samson_small.mat", cube)
    split = {"train": ["samson_small_left"], "val": ["samson_small_right"], "test": ["samson_small_right"]}
    config = remote_config(tmp_path, split=split)
    config["model"] = {"name": "inf3", "args": {"scale": 4, "hsi_bands": 31}}
    with pytest.raises(ConfigError, match="hsi_bands=31 but the data needs 40"):
        make_task(config, tmp_path / "bad")
    config["model"] = {"name": "bicubic_fusion", "args": {"scale": 4, "hsi_bands": 40}}
    with pytest.raises(ConfigError, match=r"msi_bands=3 \(the default\) but the data needs 5"):
        make_task(config, tmp_path / "bad")

    config["model"] = {
        "name": "inf3",
        "args": {
            "scale": 4,
            "hsi_bands": 40,
            "msi_bands": 5,
            "spectral_features": 8,
            "spatial_features": 8,
            "fused_features": 8,
            "encoder_width": 8,
            "encoder_layers": 1,
            "mlp_hidden": [16],
        },
    }
    task = make_task(config, tmp_path / "run")
    train_cubes = task.train_dataset(0).cubes
    assert len(train_cubes) == 1
    np.testing.assert_array_equal(train_cubes[0], cube[:, :24])  # only the left half is trained on
    (case,) = task.eval_cases("test")
    np.testing.assert_array_equal(case.truth, cube[:, 24:])  # 48x24 is a multiple of the scale already
    np.testing.assert_allclose(case.wavelengths, SAMSON_NM)
    assert case.metric_args == {"ratio": 4}

    train(config, tmp_path / "run", progress=False)
    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert np.asarray(meta["srf"]).shape == (5, 40) and len(meta["wavelengths"]) == 40
    assert meta["data"]["regions"] == {"axis": "columns", "fraction": 0.5} and meta["val"]["psnr"] > 10


def test_benchmark_of_bicubic_on_both_halves_matches_a_direct_computation(tmp_path):
    import torch

    from hsinr.benchmark import run_benchmark

    cube = smooth_cube(48, 48, 40, seed=3)
    write_samson_like(tmp_path / "samson_small.mat", cube)
    config = remote_config(tmp_path)
    config["methods"] = [
        {"label": "Bicubic", "model": {"name": "bicubic_fusion", "args": {"scale": 4, "hsi_bands": 40, "msi_bands": 5}}}
    ]
    config["folds"] = [
        {"train": ["samson_small_left"], "val": [], "test": ["samson_small_right"]},
        {"train": ["samson_small_right"], "val": [], "test": ["samson_small_left"]},
    ]
    config["evaluate"] = {"tile": 64, "figures": False}
    result = run_benchmark(config, tmp_path / "bench", progress=False)
    (row,) = result["rows"]
    assert row["scenes"] == 2 and row["macs_per_pixel"] == 0.0

    srf = fusion_response("band_average", SAMSON_NM).srf
    expected = []
    for half in (cube[:, 24:], cube[:, :24]):
        lr_hsi, _ = simulate_pair(half, srf, 4)
        np.testing.assert_allclose(lr_hsi, blur_downsample(half, 4))
        up = upsample_bicubic(torch.from_numpy(lr_hsi.transpose(2, 0, 1))[None], 4)[0].permute(1, 2, 0).numpy()
        expected.append(metrics.psnr(half, up))
    assert row["psnr"] == pytest.approx(np.mean(expected), abs=1e-4)
    assert "ERGAS with ratio 4" in (tmp_path / "bench" / "table.md").read_text()
