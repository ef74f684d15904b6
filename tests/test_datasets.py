"""Tests of hsinr.data: discovery of every dataset layout, splits, (RGB, cube) loading and patch datasets.

Every file is written by the tests themselves in ``tmp_path`` in the exact layout of the public dataset.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import scipy.io
import torch

from hsinr.data import (
    DATASET_KINDS,
    FullImageDataset,
    PatchDataset,
    SceneCache,
    SceneItem,
    ScenePair,
    dihedral,
    discover,
    leave_one_out,
    load_pair,
    load_split,
    make_split,
    official_split,
    save_split,
    split_for,
)
from hsinr.errors import ConfigError, DataError
from hsinr.io import read_cube

SHARED_CAVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cave"


def random_cube(height: int, width: int, bands: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, bands), dtype=np.float32)


def write_cave_scene(folder: Path, scene: str, cube16: np.ndarray) -> None:
    """Write ``cube16`` (H, W, 31) uint16 as CAVE band PNGs ``<scene>_ms_01..31.png`` in ``folder``."""
    folder.mkdir(parents=True)
    for band in range(cube16.shape[2]):
        iio.imwrite(folder / f"{scene}_ms_{band + 1:02d}.png", cube16[:, :, band])


def write_rgb8(path: Path, rgb8: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, rgb8)


def touch_mat(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, arrays or {"cube": np.zeros((2, 2, 2))})


# ------------------------------------------------------------------------------------------------------ discovery


def test_cave_finds_nested_and_flat_scene_folders_and_mat_cubes(tmp_path):
    cube16 = np.random.default_rng(1).integers(0, 65536, size=(6, 5, 31), dtype=np.uint16)
    write_cave_scene(tmp_path / "balloons_ms" / "balloons_ms", "balloons", cube16)  # as in the public archive
    write_cave_scene(tmp_path / "beads_ms", "beads", cube16)
    (tmp_path / "balloons_ms" / "balloons_ms" / "balloons_RGB.bmp").write_bytes(b"not paired")
    touch_mat(tmp_path / "feathers.mat", Omsi=np.ones((4, 4, 31)))

    items = discover("cave", tmp_path)

    assert [item.name for item in items] == ["balloons", "beads", "feathers"]
    assert items[0].cube_path == tmp_path / "balloons_ms" / "balloons_ms"
    assert items[1].cube_path == tmp_path / "beads_ms"
    assert items[2].cube_path == tmp_path / "feathers.mat"
    assert all(item.rgb_path is None for item in items)  # CAVE's RGB.bmp is a display image, never paired
    assert items[0].wavelengths[0] == 400.0 and items[0].wavelengths[-1] == 700.0


def test_cave_folder_scene_renders_rgb_with_the_given_response(tmp_path):
    cube16 = np.random.default_rng(2).integers(0, 65536, size=(6, 5, 31), dtype=np.uint16)
    write_cave_scene(tmp_path / "toy_ms" / "toy_ms", "toy", cube16)
    srf = np.zeros((3, 31))
    srf[0, 0], srf[1, 10], srf[2, 20:22] = 1.0, 0.5, 0.25  # R = band 0, G = band 10 / 2, B = mean of bands 20, 21 / 2

    pair = load_pair(discover("cave", tmp_path)[0], srf=srf)

    cube = cube16.astype(np.float64) / 65535
    np.testing.assert_allclose(pair.cube, cube, atol=1e-6)
    np.testing.assert_allclose(pair.rgb[..., 0], cube[..., 0], atol=1e-6)
    np.testing.assert_allclose(pair.rgb[..., 1], 0.5 * cube[..., 10], atol=1e-6)
    np.testing.assert_allclose(pair.rgb[..., 2], 0.25 * (cube[..., 20] + cube[..., 21]), atol=1e-6)
    assert pair.rgb.dtype == np.float32 and pair.cube.dtype == np.float32
    np.testing.assert_allclose(pair.wavelengths, np.arange(400, 701, 10))


def test_arad_tags_official_subsets_and_pairs_rgb(tmp_path):
    for name in ("ARAD_1K_0002", "ARAD_1K_0001"):
        touch_mat(tmp_path / "Train_Spec" / f"{name}.mat")
        write_rgb8(tmp_path / "Train_RGB" / f"{name}.jpg", np.zeros((2, 2, 3), np.uint8))
    touch_mat(tmp_path / "Valid_Spec" / "ARAD_1K_0901.mat")  # its RGB is missing: rendered instead

    items = discover("arad", tmp_path)

    assert [(item.name, item.subset) for item in items] == [
        ("ARAD_1K_0001", "train"),
        ("ARAD_1K_0002", "train"),
        ("ARAD_1K_0901", "val"),
    ]
    assert items[0].rgb_path == tmp_path / "Train_RGB" / "ARAD_1K_0001.jpg"
    assert items[2].rgb_path is None
    assert official_split(items) == {
        "train": ["ARAD_1K_0001", "ARAD_1K_0002"],
        "val": ["ARAD_1K_0901"],
        "test": ["ARAD_1K_0901"],
    }


def test_official_split_needs_tagged_items(tmp_path):
    with pytest.raises(ConfigError, match="official split"):
        official_split([SceneItem("a", tmp_path / "a.mat")])


def test_icvl_pairs_clean_or_camera_rgb_from_sibling_folders(tmp_path):
    touch_mat(tmp_path / "NTIRE2018_Train1_Spectral" / "BGU_HS_00001.mat", rad=np.ones((2, 2, 31)))
    touch_mat(tmp_path / "NTIRE2018_Train1_Spectral" / "BGU_HS_00002.mat", rad=np.ones((2, 2, 31)))
    clean = tmp_path / "NTIRE2018_Train1_Clean" / "BGU_HS_00001_clean.png"
    camera = tmp_path / "NTIRE2018_Train1_RealWorld" / "BGU_HS_00001_camera.jpg"
    write_rgb8(clean, np.zeros((2, 2, 3), np.uint8))
    write_rgb8(camera, np.zeros((2, 2, 3), np.uint8))

    assert [(i.name, i.rgb_path) for i in discover("icvl", tmp_path)] == [
        ("BGU_HS_00001", clean),
        ("BGU_HS_00002", None),
    ]
    assert discover("icvl", tmp_path, rgb_track="camera")[0].rgb_path == camera
    assert discover("icvl", tmp_path, rgb_track=None)[0].rgb_path is None
    with pytest.raises(ConfigError, match="rgb_track"):
        discover("icvl", tmp_path, rgb_track="raw")


def test_icvl_reads_rad_from_a_v73_file(tmp_path):
    cube = random_cube(4, 3, 31, seed=3)
    path = tmp_path / "BGU_HS_00001.mat"
    with h5py.File(path, "w", userblock_size=512) as handle:  # MATLAB v7.3 layout: HDF5 after a 512-byte header
        handle["rad"] = cube.transpose(2, 1, 0)  # MATLAB stores column-major: h5py sees (C, W, H)
        handle["bands"] = np.arange(400.0, 701.0, 10.0)[:, None].T
    srf = np.full((3, 31), 1.0 / 31)

    pair = load_pair(discover("icvl", tmp_path)[0], srf=srf)

    np.testing.assert_allclose(pair.cube, cube, atol=1e-6)
    np.testing.assert_allclose(pair.rgb, np.repeat(cube.mean(axis=2, keepdims=True), 3, axis=2), atol=1e-6)


def test_harvard_uses_ref_and_420_to_720_nm(tmp_path):
    cube = random_cube(3, 4, 31, seed=4)
    touch_mat(tmp_path / "CZ_hsdb" / "imga1.mat", ref=cube.astype(np.float64), lbl=np.ones((3, 4)))

    items = discover("harvard", tmp_path)
    pair = load_pair(items[0], srf=np.eye(3, 31))

    assert [item.name for item in items] == ["imga1"]
    np.testing.assert_allclose(pair.cube, cube, atol=1e-6)
    np.testing.assert_allclose(pair.wavelengths, np.arange(420, 721, 10))
    np.testing.assert_allclose(pair.rgb, cube[..., :3], atol=1e-6)


def test_nus_prefers_ref_then_rad(tmp_path):
    reflectance, radiance = random_cube(3, 3, 31, seed=5), random_cube(3, 3, 31, seed=6)
    touch_mat(tmp_path / "both.mat", rad=radiance, ref=reflectance)
    touch_mat(tmp_path / "radiance_only.mat", rad=radiance)
    touch_mat(tmp_path / "neither.mat", img=radiance)
    items = {item.name: item for item in discover("nus", tmp_path)}
    srf = np.eye(3, 31)

    np.testing.assert_allclose(load_pair(items["both"], srf=srf).cube, reflectance, atol=1e-6)
    np.testing.assert_allclose(load_pair(items["radiance_only"], srf=srf).cube, radiance, atol=1e-6)
    with pytest.raises(DataError, match=r"neither\.mat.*'ref' or 'rad' or 'cube'.*img"):
        load_pair(items["neither"], srf=srf)


def test_folder_pairs_rgb_beside_each_cube(tmp_path):
    cube = random_cube(4, 5, 6, seed=7)
    rgb8 = np.random.default_rng(8).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    for stem in ("a", "b", "c"):
        np.save(tmp_path / f"{stem}.npy", cube)
    write_rgb8(tmp_path / "a_rgb.png", rgb8)
    write_rgb8(tmp_path / "b.png", rgb8)
    (tmp_path / "notes.txt").write_text("not a cube")

    items = discover("folder", tmp_path)
    pair = load_pair(items[0])

    assert [(item.name, item.rgb_path) for item in items] == [
        ("a", tmp_path / "a_rgb.png"),
        ("b", tmp_path / "b.png"),
        ("c", None),
    ]
    np.testing.assert_array_equal(pair.rgb, rgb8.astype(np.float32) / 255)
    np.testing.assert_allclose(pair.cube, cube)
    assert pair.wavelengths is None  # the .npy says nothing and no band centres were given
    with pytest.raises(ConfigError, match=r"c\.npy.*no paired RGB"):
        load_pair(items[2])


def test_given_srf_overrides_the_paired_rgb(tmp_path):
    cube = random_cube(4, 5, 3, seed=9)
    np.save(tmp_path / "a.npy", cube)
    write_rgb8(tmp_path / "a.png", np.zeros((4, 5, 3), np.uint8))

    pair = load_pair(discover("folder", tmp_path)[0], srf=np.eye(3)[::-1])

    np.testing.assert_allclose(pair.rgb, cube[..., ::-1], atol=1e-6)


def test_rgb_and_cube_of_different_sizes_name_both_files(tmp_path):
    np.save(tmp_path / "scene.npy", random_cube(4, 5, 3))
    write_rgb8(tmp_path / "scene_rgb.png", np.zeros((4, 6, 3), np.uint8))

    with pytest.raises(DataError, match=r"scene_rgb\.png is 4x6 but cube .*scene\.npy is 4x5"):
        load_pair(discover("folder", tmp_path)[0])


def test_a_response_spec_needs_known_band_centres(tmp_path):
    np.save(tmp_path / "a.npy", random_cube(2, 2, 31))
    with pytest.raises(DataError, match="band centres unknown"):
        load_pair(discover("folder", tmp_path)[0], srf="cie1931")


def test_a_response_of_the_wrong_band_count_names_the_cube(tmp_path):
    np.save(tmp_path / "a.npy", random_cube(2, 2, 31))
    with pytest.raises(DataError, match=r"a\.npy"):
        load_pair(discover("folder", tmp_path)[0], srf=np.ones((3, 30)))


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_empty_and_missing_folders_say_what_was_expected(tmp_path, kind):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match=r"empty: no scenes found; expected .*(mat|png|npy)"):
        discover(kind, tmp_path / "empty")
    with pytest.raises(DataError, match=r"missing: dataset folder does not exist"):
        discover(kind, tmp_path / "missing")


def test_unknown_kind_and_option_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset kind 'kaist'.*cave"):
        discover("kaist", tmp_path)
    with pytest.raises(ConfigError, match="harvard"):
        discover("harvard", tmp_path, rgb_track="clean")


def test_two_files_with_one_name_are_refused(tmp_path):
    touch_mat(tmp_path / "a" / "scene.mat")
    touch_mat(tmp_path / "b" / "scene.mat")
    with pytest.raises(DataError, match=r"same scene name: .*a/scene\.mat, .*b/scene\.mat"):
        discover("nus", tmp_path)


def test_scene_cache_loads_each_scene_once(tmp_path):
    np.save(tmp_path / "a.npy", random_cube(4, 5, 6))
    np.save(tmp_path / "b.npy", random_cube(3, 2, 6))
    cache = SceneCache(discover("folder", tmp_path), srf=np.ones((3, 6)) / 6)

    first = cache.get("a")

    assert cache.get("a") is first
    assert cache.nbytes == 4 * 4 * 5 * (6 + 3)
    assert [pair.name for pair in cache.pairs()] == ["a", "b"]
    assert cache.nbytes == 4 * (4 * 5 + 3 * 2) * (6 + 3)
    with pytest.raises(ConfigError, match="'z' is not in the dataset"):
        cache.get("z")


def test_shared_cube_reads_decode_each_file_once_and_hand_out_read_only_arrays(tmp_path, monkeypatch):
    from hsinr.data import datasets

    np.save(tmp_path / "a.npy", random_cube(4, 5, 6))
    reads = []
    monkeypatch.setattr(datasets, "read_cube", lambda path, key=None: reads.append(path) or read_cube(path, key=key))
    items = discover("folder", tmp_path)
    srf = np.ones((3, 6)) / 6

    with datasets.shared_cube_reads():
        first = SceneCache(items, srf=srf).get("a")  # two methods, two caches: one read
        with datasets.shared_cube_reads():  # a nested block shares the outer store
            second = SceneCache(items, srf=srf).get("a")
        assert second.cube is first.cube and len(reads) == 1
        with pytest.raises(ValueError, match="read-only"):
            first.cube[0, 0, 0] = 1.0
    np.testing.assert_array_equal(SceneCache(items, srf=srf).get("a").cube, first.cube)
    assert len(reads) == 2  # outside the block every cache reads again, and owns a writable array
    assert SceneCache(items, srf=srf).get("a").cube.flags.writeable


@pytest.mark.skipif(not SHARED_CAVE.is_dir(), reason="real CAVE crops in ../shared/data/cave are not available")
def test_real_cave_crops_render_with_the_nikon_response():
    items = discover("cave", SHARED_CAVE)
    srf = scipy.io.loadmat(SHARED_CAVE.parent / "srf" / "nikon_d700_cave.mat")["P"]
    crop = next(item for item in items if item.name == "balloons_crop100")

    pair = load_pair(crop, srf=srf)

    assert {"balloons_256", "balloons_crop100", "feathers_crop150"} <= {item.name for item in items}
    assert pair.cube.shape == (100, 100, 31) and pair.rgb.shape == (100, 100, 3)
    np.testing.assert_allclose(pair.rgb, pair.cube.astype(np.float64) @ srf.T, rtol=1e-5, atol=1e-6)
    assert 0.0 <= pair.cube.min() and pair.cube.max() <= 1.0


# ----------------------------------------------------------------------------------------------------------- splits


def test_make_split_is_seeded_and_independent_of_input_order():
    names = [f"scene{i:02d}" for i in range(20)]

    split = make_split(names, seed=3)

    assert make_split(list(reversed(names)), seed=3) == split
    assert make_split(names, seed=4) != split
    assert sorted(split["train"] + split["val"] + split["test"]) == names
    assert [len(split[s]) for s in ("train", "val", "test")] == [12, 4, 4]
    assert all(split[s] == sorted(split[s]) for s in split)


@pytest.mark.parametrize(
    "count, ratios, sizes",
    [
        (1, (0.6, 0.2, 0.2), [1, 0, 0]),
        (2, (0.6, 0.2, 0.2), [1, 1, 0]),
        (3, (0.6, 0.2, 0.2), [1, 1, 1]),
        (4, (0.6, 0.2, 0.2), [2, 1, 1]),
        (5, (0.6, 0.2, 0.2), [3, 1, 1]),
        (10, (0.6, 0.2, 0.2), [6, 2, 2]),
        (3, (0.98, 0.01, 0.01), [1, 1, 1]),
        (10, (8, 2, 0), [8, 2, 0]),
        (7, (1, 1, 1), [3, 2, 2]),
    ],
)
def test_split_sizes_follow_largest_remainder_rounding(count, ratios, sizes):
    split = make_split([f"s{i}" for i in range(count)], ratios=ratios, seed=0)
    assert [len(split[s]) for s in ("train", "val", "test")] == sizes


@pytest.mark.parametrize("ratios", [(0.5, 0.5), (0.6, -0.2, 0.6), (0, 0, 0), (float("nan"), 0.2, 0.2)])
def test_invalid_ratios_are_config_errors(ratios):
    with pytest.raises(ConfigError, match="ratios"):
        make_split(["a", "b", "c"], ratios=ratios)


def test_duplicate_names_cannot_be_split():
    with pytest.raises(ConfigError, match="duplicate scene names.*b"):
        make_split(["a", "b", "b", "c"])


def test_split_for_writes_then_reuses_the_run_split(tmp_path):
    names = [f"scene{i}" for i in range(10)]
    run = tmp_path / "run"

    first = split_for(run, names, ratios=(0.6, 0.2, 0.2), seed=0)
    stored = json.loads((run / "split.json").read_text())
    again = split_for(run, reversed(names + ["new_scene"]), ratios=(0.2, 0.4, 0.4), seed=7)  # the file wins

    assert again == first == load_split(run / "split.json")
    assert stored["seed"] == 0 and stored["ratios"] == [0.6, 0.2, 0.2]
    with pytest.raises(ConfigError, match=r"split\.json: names scenes that are not in the dataset: scene3"):
        split_for(run, [name for name in names if name != "scene3"])


def test_save_and_load_split_round_trip_and_refuse_leaks(tmp_path):
    split = {"train": ["b", "a"], "val": ["c"], "test": ["d"]}
    save_split(tmp_path / "s.json", split)
    assert load_split(tmp_path / "s.json") == {"train": ["a", "b"], "val": ["c"], "test": ["d"]}

    with pytest.raises(ConfigError, match="both train and val/test: a"):
        save_split(tmp_path / "bad.json", {"train": ["a"], "val": ["a"], "test": []})
    (tmp_path / "broken.json").write_text("{train: ")
    with pytest.raises(ConfigError, match="broken.json: not a valid JSON"):
        load_split(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="nothing.json: split file not found"):
        load_split(tmp_path / "nothing.json")


def test_leave_one_out_holds_out_the_named_scenes(tmp_path):
    names = ["balloons_256", "chart", "feathers"]
    split = leave_one_out(names, "feathers")

    assert split == {"train": ["balloons_256", "chart"], "val": ["feathers"], "test": ["feathers"]}
    save_split(tmp_path / "loo.json", split)  # val and test may share scenes
    assert load_split(tmp_path / "loo.json") == split
    with pytest.raises(ConfigError, match="held-out scenes peppers are not in the dataset"):
        leave_one_out(names, "peppers")
    with pytest.raises(ConfigError, match="left for training"):
        leave_one_out(names, names)


# ---------------------------------------------------------------------------------------------------------- patches


def red_band_pairs(sizes, bands: int = 4) -> list[ScenePair]:
    """Scenes whose cube band 0 equals the RGB red channel (random, so every flip and transpose shows)."""
    pairs = []
    for index, (height, width) in enumerate(sizes):
        cube = random_cube(height, width, bands, seed=10 + index)
        rgb = random_cube(height, width, 3, seed=20 + index)
        rgb[..., 0] = cube[..., 0]
        pairs.append(ScenePair(f"scene{index}", rgb, cube, None))
    return pairs


def test_dihedral_ops_on_a_two_by_two_image():
    image = np.array([[1, 2], [3, 4]])
    expected = {
        0: [[1, 2], [3, 4]],
        1: [[2, 1], [4, 3]],  # left-right
        2: [[3, 4], [1, 2]],  # top-bottom
        4: [[1, 3], [2, 4]],  # transpose
        7: [[4, 2], [3, 1]],  # left-right, top-bottom, transpose
    }
    for op, result in expected.items():
        np.testing.assert_array_equal(dihedral(image, op), result)
    assert len({dihedral(image, op).tobytes() for op in range(8)}) == 8


def test_the_ensemble_script_undoes_every_dihedral_view():
    spec = importlib.util.spec_from_file_location("ensemble", Path(__file__).parents[1] / "benchmarks" / "ensemble.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    image = np.arange(2 * 3 * 2).reshape(2, 3, 2)  # not square: a wrong inverse changes the shape or the order
    for op in range(8):
        np.testing.assert_array_equal(script.undo_dihedral(dihedral(image, op), op), image)


def test_the_ensemble_script_shrinks_the_residual_toward_the_prior():
    spec = importlib.util.spec_from_file_location("ensemble", Path(__file__).parents[1] / "benchmarks" / "ensemble.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    prior, prediction = np.array([1.0, 2.0, 4.0]), np.array([3.0, 2.0, 0.0])
    np.testing.assert_array_equal(script.blend_with_prior(prior, prediction, 1.0), prediction)
    np.testing.assert_array_equal(script.blend_with_prior(prior, prediction, 0.0), prior)
    np.testing.assert_array_equal(script.blend_with_prior(prior, prediction, 0.75), [2.5, 2.0, 1.0])
    assert script.RESIDUAL_WEIGHTS[-1] == 1.0  # the model as trained is always a candidate


def test_patches_have_the_contract_shapes_and_dtype():
    dataset = PatchDataset(red_band_pairs([(20, 24), (16, 30)], bands=5), patch_size=8, patches_per_epoch=7)
    item = dataset[6]

    assert len(dataset) == 7
    assert item["rgb"].shape == (3, 8, 8) and item["cube"].shape == (5, 8, 8)
    assert item["rgb"].dtype == torch.float32 and item["cube"].dtype == torch.float32
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    assert batch["rgb"].shape == (4, 3, 8, 8) and batch["cube"].shape == (4, 5, 8, 8)
    with pytest.raises(IndexError):
        dataset[7]


def test_same_seed_and_epoch_give_the_same_patches():
    pairs = red_band_pairs([(20, 24), (16, 30)])
    first, second = PatchDataset(pairs, 8, 10, seed=5), PatchDataset(pairs, 8, 10, seed=5)
    first.set_epoch(3)
    second.set_epoch(3)
    later = PatchDataset(pairs, 8, 10, seed=5)
    later.set_epoch(4)

    for index in range(10):
        assert torch.equal(first[index]["cube"], second[index]["cube"])
        assert torch.equal(first[index]["rgb"], second[index]["rgb"])
    assert any(not torch.equal(first[i]["cube"], later[i]["cube"]) for i in range(10))


def test_unaugmented_patch_is_the_drawn_crop():
    pairs = red_band_pairs([(20, 24), (16, 30)])
    dataset = PatchDataset(pairs, patch_size=8, patches_per_epoch=20, augment=False, seed=1)

    for index in range(20):
        scene, top, left, op = dataset.draw(index)
        crop = pairs[scene].cube[top : top + 8, left : left + 8]
        assert op == 0
        np.testing.assert_array_equal(dataset[index]["cube"].numpy(), crop.transpose(2, 0, 1))
    assert {dataset.draw(i)[0] for i in range(20)} == {0, 1}


def test_augmentation_applies_the_same_op_to_rgb_and_cube():
    pairs = red_band_pairs([(20, 24), (16, 30)])
    dataset = PatchDataset(pairs, patch_size=8, patches_per_epoch=64, augment=True, seed=2)

    ops = set()
    for index in range(64):
        scene, top, left, op = dataset.draw(index)
        item = dataset[index]
        ops.add(op)
        torch.testing.assert_close(item["rgb"][0], item["cube"][0], rtol=0, atol=0)
        expected = dihedral(pairs[scene].cube[top : top + 8, left : left + 8], op).transpose(2, 0, 1)
        np.testing.assert_array_equal(item["cube"].numpy(), expected)
    assert ops == set(range(8))


def test_mixup_blends_two_scenes_and_keeps_rgb_equal_to_cube_times_response():
    srf = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]], np.float32)
    cubes = [np.full((12, 12, 4), value, np.float32) * [1.0, 0.5, 0.25, 2.0] for value in (0.1, 0.4)]
    pairs = [ScenePair(f"s{k}", cube @ srf.T, cube, None) for k, cube in enumerate(cubes)]

    plain = PatchDataset(pairs, patch_size=4, patches_per_epoch=32, augment=False, seed=0)
    mixed = PatchDataset(pairs, patch_size=4, patches_per_epoch=32, augment=False, seed=0, mix=1.0)

    plain_levels = {round(float(plain[i]["cube"][0, 0, 0]), 6) for i in range(32)}
    mixed_levels = [float(mixed[i]["cube"][0, 0, 0]) for i in range(32)]
    assert plain_levels == {0.1, 0.4}
    assert all(0.1 - 1e-6 <= v <= 0.4 + 1e-6 for v in mixed_levels)
    assert len({round(v, 4) for v in mixed_levels} - {0.1, 0.4}) > 10  # blends, not the two scenes
    for i in range(32):
        item = mixed[i]
        rendered = np.einsum("chw,kc->khw", item["cube"].numpy(), srf)
        np.testing.assert_allclose(item["rgb"].numpy(), rendered, atol=1e-6)
        np.testing.assert_allclose(
            item["cube"].numpy() / [[[1.0]], [[0.5]], [[0.25]], [[2.0]]],
            np.broadcast_to(item["cube"][0].numpy(), (4, 4, 4)),
            atol=1e-6,
        )
    with pytest.raises(ConfigError, match=r"mix probability must be in \[0, 1\]"):
        PatchDataset(pairs, patch_size=4, mix=1.5)


def test_scenes_smaller_than_the_patch_are_refused():
    with pytest.raises(DataError, match=r"smaller than the 16x16 patch: scene1 \(12x30\)"):
        PatchDataset(red_band_pairs([(20, 24), (12, 30)]), patch_size=16)


def test_scenes_must_share_band_count_and_rgb_size():
    mixed = red_band_pairs([(20, 24)], bands=4) + red_band_pairs([(20, 24)], bands=5)
    with pytest.raises(DataError, match=r"different band counts \[4, 5\]"):
        PatchDataset(mixed, patch_size=8)
    bad = ScenePair("odd", np.zeros((10, 12, 3), np.float32), np.zeros((10, 11, 4), np.float32), None)
    with pytest.raises(DataError, match="scene odd: RGB"):
        FullImageDataset([bad])
    with pytest.raises(DataError, match="no scenes"):
        PatchDataset([], patch_size=8)
    with pytest.raises(ConfigError, match="patch_size"):
        PatchDataset(red_band_pairs([(20, 24)]), patch_size=0)


def test_full_images_in_order_with_names():
    pairs = red_band_pairs([(20, 24), (16, 30)])
    dataset = FullImageDataset(pairs)

    assert len(dataset) == 2
    for pair, item in zip(pairs, dataset, strict=True):
        assert item["name"] == pair.name
        np.testing.assert_array_equal(item["rgb"].numpy(), pair.rgb.transpose(2, 0, 1))
        np.testing.assert_array_equal(item["cube"].numpy(), pair.cube.transpose(2, 0, 1))
