"""``task: inss`` as a benchmark task: evaluation cases over the valid bands, baselines with an L1 fallback, the
``remote-rgb`` helper and the train → remote-rgb → synthesize chain, on a tiny self-written Jasper-Ridge-like file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat

from hsinr.config import DEFAULTS, deep_merge
from hsinr.data.remote import aviris_band_centres
from hsinr.errors import ConfigError
from hsinr.models import make
from hsinr.tasks import make_task

# AVIRIS band numbers of the tiny cube: 8/18/35 are the RGB picks; 105, 110 and 160 lie in the water-absorption
# ranges and 222 beyond 2450 nm, so 6 of the 10 bands are valid.
BANDS = np.array([8, 18, 35, 60, 105, 110, 130, 160, 200, 222])
VALID = np.array([True, True, True, True, False, False, True, False, True, False])
HEIGHT, WIDTH = 24, 24  # val and test regions are 12 × 12: SSIM needs 11 × 11
JASPER = Path(__file__).resolve().parents[2] / "shared" / "data" / "remote" / "jasper_ridge_198.mat"


def linear_scene(seed: int = 0, water_noise: bool = True) -> np.ndarray:
    """``(H, W, 10)`` reflectance in which every valid band is a fixed linear mix of the three RGB bands; with
    ``water_noise`` the invalid bands of the right half are replaced by noise that no RGB map can predict."""
    rng = np.random.default_rng(seed)
    picked = 0.1 + 0.5 * rng.random((HEIGHT, WIDTH, 3))  # bands 8, 18, 35 (blue, green, red)
    mix = 0.5 * rng.random((3, BANDS.size))
    mix[:, :3] = np.eye(3)
    cube = picked @ mix
    if water_noise:
        cube[:, WIDTH // 2 :, ~VALID] = rng.random((HEIGHT, WIDTH // 2, int((~VALID).sum())))
    return cube.astype(np.float32)


def write_jasper_like(path: Path, cube: np.ndarray) -> Path:
    """Write ``cube`` in Jasper Ridge's layout: ``Y`` (bands, pixels) column-major, ``maxValue``, ``SlectBands``."""
    y = np.rint(cube * 5000).transpose(2, 0, 1).reshape(cube.shape[2], -1, order="F")
    savemat(path, {"Y": y, "nRow": HEIGHT, "nCol": WIDTH, "maxValue": 5000.0, "SlectBands": BANDS[:, None]})
    return path


def tiny_library(count: int = 4) -> list[list[float]]:
    return (0.1 + 0.8 * np.random.default_rng(1).random((count, BANDS.size))).tolist()


def config_for(path: Path, model: dict, **sections) -> dict:
    base = {
        "task": "inss",
        "model": model,
        "data": {"root": str(path), "patch_size": 8, "patches_per_epoch": 4, "augment": False},
        "inss": {"lambda_adv": 0.0},
        "train": {"epochs": 1, "batch_size": 2, "lr": 1e-3, "val_tile": 64},
    }
    return deep_merge(DEFAULTS, deep_merge(base, sections))


def tiny_inss(order: int = 1) -> dict:
    return {"name": "inss", "args": {"library": tiny_library(), "order": order, "cell": 4, "widths": [4, 4, 4, 4]}}


@pytest.fixture
def scene_file(tmp_path) -> Path:
    return write_jasper_like(tmp_path / "jasper_tiny.mat", linear_scene())


def test_eval_cases_hold_their_regions_and_only_the_valid_bands(scene_file, tmp_path):
    task = make_task(config_for(scene_file, {"name": "linear_ls"}), tmp_path / "run")
    cube = np.rint(linear_scene() * 5000) / 5000
    (case,) = task.eval_cases("test")
    assert case.name == "jasper_tiny_right_bottom"
    np.testing.assert_allclose(case.truth, cube[HEIGHT // 2 :, WIDTH // 2 :][..., VALID], atol=1e-6)
    np.testing.assert_allclose(case.wavelengths, aviris_band_centres(BANDS[VALID]))
    np.testing.assert_array_equal(np.argmax(case.metric_args["srf"], axis=1), [2, 1, 0])  # R, G, B = bands 35/18/8
    (val_case,) = task.eval_cases("val")
    assert val_case.name == "jasper_tiny_right_top"
    np.testing.assert_allclose(val_case.truth, cube[: HEIGHT // 2, WIDTH // 2 :][..., VALID], atol=1e-6)
    (train_case,) = task.eval_cases("train")
    np.testing.assert_allclose(train_case.truth, cube[:, : WIDTH // 2][..., VALID], atol=1e-6)
    assert task.eval_cases("nonsense") == []
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["train"] == ["jasper_tiny_left"]
    assert split["val"] == ["jasper_tiny_right_top"] and split["test"] == ["jasper_tiny_right_bottom"]
    assert split["regions"]["jasper_tiny_right_top"].startswith("rows [0, 12) × columns [12, 24) of 24 × 24")


@pytest.mark.parametrize("train_fraction, val_fraction", [(0.5, 0.5), (0.25, 0.3), (0.7, 0.8)])
def test_train_val_and_test_regions_do_not_overlap_and_cover_the_scene(tmp_path, train_fraction, val_fraction):
    """Every pixel belongs to exactly one region, and each region's data is that pixel's (values are positions)."""
    positions = np.arange(HEIGHT * WIDTH, dtype=np.float32).reshape(HEIGHT, WIDTH) / (HEIGHT * WIDTH)
    path = write_jasper_like(tmp_path / "jasper_tiny.mat", np.repeat(positions[..., None], BANDS.size, axis=2))
    config = config_for(
        path, {"name": "linear_ls"}, data={"train_fraction": train_fraction, "val_fraction": val_fraction}
    )
    task = make_task(config, tmp_path / "run")
    owner = np.zeros((HEIGHT, WIDTH), dtype=int)
    for subset, (r0, r1, c0, c1) in task.regions.items():
        owner[r0:r1, c0:c1] += 1
        stored = np.rint(positions[r0:r1, c0:c1] * 5000) / 5000
        np.testing.assert_allclose(task.pairs[subset].cube[..., 0], stored, atol=1e-6)
    np.testing.assert_array_equal(owner, 1)
    val, test = (set(task.pairs[s].cube[..., 0].ravel().round(6)) for s in ("val", "test"))
    assert not val & test and len(set(task.split["val"]) | set(task.split["test"])) == 2


def test_least_squares_is_exact_on_valid_bands_whatever_the_water_bands_hold(scene_file, tmp_path):
    """The valid bands are linear in RGB, the held-out water bands are noise: metrics must not see the noise."""
    from hsinr.train import train

    config = config_for(scene_file, {"name": "linear_ls"})
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["stopped"] == "closed form"
    from hsinr.checkpoint import load_checkpoint

    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert meta["spec"]["args"]["out_bands"] == BANDS.size  # filled in from the cube by the task's complete_spec
    task = make_task(config, tmp_path / "run")
    scores = task.validate(model, "test")
    # 16-bit-like quantisation of the stored cube (÷ 5000) bounds the fit error
    assert scores["rmse"] < 2e-4 and scores["psnr"] > 70 and scores["sam"] < 0.05
    full = model(torch.from_numpy(task.pairs["test"].rgb.transpose(2, 0, 1).copy())[None])
    truth = np.rint(linear_scene() * 5000)[HEIGHT // 2 :, WIDTH // 2 :] / 5000
    water_error = np.abs(full[0].detach().numpy().transpose(1, 2, 0) - truth)[..., ~VALID].mean()
    assert water_error > 0.1  # the noise is really there, and left out of the metrics above
    assert meta["val"]["rmse"] == pytest.approx(task.validate(model, "val")["rmse"])  # best.pt: the val region


def test_baselines_train_with_l1_over_valid_bands_and_no_discriminators(scene_file, tmp_path):
    torch.manual_seed(0)
    config = config_for(scene_file, {"name": "hscnn_r", "args": {"width": 4, "blocks": 1}})
    task = make_task(config, tmp_path / "run")
    spec = task.complete_spec(config["model"])
    model = make(spec)
    assert task.objective is None and spec["args"]["out_bands"] == BANDS.size
    batch = {k: v[None] for k, v in task.train_dataset(0)[0].items()}
    loss, terms = task.loss(model, batch)
    with torch.no_grad():
        expected = (model(batch["rgb"]) - batch["cube"])[:, torch.from_numpy(VALID)].abs().mean()
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6) and set(terms) == {"l1"}
    changed = {**batch, "cube": batch["cube"].clone()}
    changed["cube"][:, torch.from_numpy(~VALID)] += 7.0  # water bands do not count
    assert float(task.loss(model, changed)[0].detach()) == pytest.approx(float(loss.detach()), rel=1e-6)
    assert task.discriminator_step(model, batch) == {}


def test_a_baseline_with_other_output_bands_is_refused(scene_file, tmp_path):
    with pytest.raises(ConfigError, match="out_bands=31"):
        make_task(config_for(scene_file, {"name": "linear_ls", "args": {"out_bands": 31}}), tmp_path)


def test_inss_validation_is_the_whole_validation_region_through_the_model(scene_file, tmp_path):
    torch.manual_seed(0)
    config = config_for(scene_file, tiny_inss(order=2))
    task = make_task(config, tmp_path / "run")
    model = make(config["model"])
    (case,) = task.eval_cases("val")
    with torch.no_grad():
        direct = model(torch.from_numpy(task.pairs["val"].rgb.transpose(2, 0, 1).copy())[None])
    direct = direct[0].numpy().transpose(1, 2, 0)[..., VALID]
    np.testing.assert_allclose(case.predict(model), direct, atol=1e-5)
    from hsinr.metrics import rmse

    assert task.validate(model, "val")["rmse"] == pytest.approx(rmse(case.truth, direct), rel=1e-5)


def test_a_training_library_comes_from_the_training_region_only(scene_file, tmp_path):
    """``data.library.source: training``: the endmembers are pixels of the training columns (plus shade), stored in
    the model spec; no pixel of the validation or test regions can be one."""
    config = config_for(
        scene_file,
        {"name": "inss", "args": {"order": 1, "cell": 4, "widths": [4, 4, 4, 4]}},
        data={"library": {"source": "training", "count": 5}},
    )
    task = make_task(config, tmp_path / "run")
    args = task.complete_spec(config["model"])["args"]
    assert args["library_names"][-1] == "shade" and len(args["library"]) == 6
    train = task.pairs["train"].cube.reshape(-1, BANDS.size)
    for name, spectrum in zip(args["library_names"][:-1], args["library"][:-1], strict=True):
        row, column = (int(v) for v in name.removeprefix("pixel ").split(","))
        assert column < WIDTH // 2
        np.testing.assert_allclose(spectrum, task.pairs["train"].cube[row, column], rtol=1e-6)
        assert np.isclose(train, spectrum, rtol=1e-6).all(axis=1).any()
    too_many = deep_merge(config, {"data": {"library": {"count": HEIGHT * WIDTH}}})  # the training half has half
    with pytest.raises(ConfigError, match="data.library.count"):
        make_task(too_many, tmp_path / "too_many")


@pytest.mark.parametrize(
    "part, rows, columns",
    [
        ("test", slice(HEIGHT // 2, None), slice(WIDTH // 2, None)),
        ("val", slice(0, HEIGHT // 2), slice(WIDTH // 2, None)),
        ("train", slice(None), slice(0, WIDTH // 2)),
        ("held-out", slice(None), slice(WIDTH // 2, None)),
    ],
)
def test_remote_rgb_writes_the_bands_of_each_region_of_the_task(scene_file, tmp_path, part, rows, columns):
    from hsinr.cli import main
    from hsinr.io import read_rgb

    assert main(["remote-rgb", str(scene_file), "--part", part, "-o", str(tmp_path / "part.png")]) == 0
    rgb = read_rgb(tmp_path / "part.png")
    cube = np.rint(linear_scene() * 5000) / 5000
    np.testing.assert_allclose(rgb, cube[rows, columns][..., [2, 1, 0]], atol=0.5 / 65535 + 1e-7)
    # the same pixels as the task's own region of that name (its split.json)
    task = make_task(config_for(scene_file, {"name": "linear_ls"}), tmp_path / "task")
    if part in task.regions:
        r0, r1, c0, c1 = task.regions[part]
        np.testing.assert_allclose(rgb, cube[r0:r1, c0:c1][..., [2, 1, 0]], atol=0.5 / 65535 + 1e-7)


def test_remote_rgb_whole_scene_and_range_check(scene_file, tmp_path):
    from hsinr.cli import main
    from hsinr.io import read_rgb

    assert main(["remote-rgb", str(scene_file), "--part", "all", "-o", str(tmp_path / "all.png")]) == 0
    assert read_rgb(tmp_path / "all.png").shape == (HEIGHT, WIDTH, 3)
    bright = write_jasper_like(tmp_path / "jasper_bright.mat", 2.0 * linear_scene(water_noise=False))
    assert main(["remote-rgb", str(bright), "-o", str(tmp_path / "bright.png")]) == 2  # would clip above 1


def test_train_then_synthesize_the_held_out_part_end_to_end(scene_file, tmp_path):
    from hsinr.cli import main
    from hsinr.io import read_cube
    from hsinr.train import train

    torch.manual_seed(0)
    train(config_for(scene_file, tiny_inss(order=2)), tmp_path / "run", progress=False)
    assert main(["remote-rgb", str(scene_file), "-o", str(tmp_path / "right.png")]) == 0
    assert (
        main(
            [
                "synthesize",
                str(tmp_path / "right.png"),
                "--model",
                str(tmp_path / "run" / "best.pt"),
                "-o",
                str(tmp_path / "right.mat"),
                "--abundances",
                str(tmp_path / "ab.tif"),
                "--figures",
                str(tmp_path / "figs"),
            ]
        )
        == 0
    )
    cube = read_cube(tmp_path / "right.mat")
    assert cube.shape == (HEIGHT // 2, WIDTH // 2, BANDS.size)  # the test region
    np.testing.assert_allclose(cube.wavelengths, aviris_band_centres(BANDS))
    import tifffile

    assert tifffile.imread(tmp_path / "ab.tif").shape == (4, HEIGHT // 2, WIDTH // 2)
    assert (tmp_path / "figs" / "abundances.png").exists()


def test_benchmark_compares_baselines_and_inss_orders_on_the_same_split(scene_file, tmp_path):
    from hsinr.benchmark import run_benchmark

    config = config_for(scene_file, tiny_inss())
    config.pop("model")
    config["methods"] = [
        {"label": "Linear LS", "model": {"name": "linear_ls", "args": {"out_bands": BANDS.size}}},
        {"label": "INSS K=1", "model": tiny_inss(order=1)},
        {"label": "INSS K=2", "model": tiny_inss(order=2)},
    ]
    config["evaluate"] = {"tile": 64, "figures": False}
    torch.manual_seed(0)
    result = run_benchmark(config, tmp_path / "bench", progress=False)
    rows = {row["method"]: row for row in result["rows"]}
    assert list(rows) == ["Linear LS", "INSS K=1", "INSS K=2"]
    assert rows["Linear LS"]["rmse"] < 2e-4  # exact on the valid bands, as in the single-run test
    assert all(np.isfinite(row["sam"]) and row["rmse"] > 0 for row in rows.values())
    assert rows["INSS K=2"]["params"] > rows["INSS K=1"]["params"]  # T exists only for K >= 2
    assert {row["scene"] for row in result["per_scene"]} == {"jasper_tiny_right_bottom"}
    # the table states the INSS task's own protocol, never the RGB task's camera response or L1 loss
    protocol = " ".join(str(v) for v in result["protocol"].values())
    assert "no camera response" in protocol and "rendered" not in protocol and "L1 loss" not in protocol
    # the task's regions replace the generic scene split, which INSS does not use
    assert "split" not in result["protocol"] and "rows [0, 12)" in result["protocol"]["regions"]


@pytest.mark.skipif(not JASPER.exists(), reason="shared remote-sensing data not present")
def test_jasper_ridge_test_case_is_the_bottom_right_square_with_187_bands(tmp_path):
    task = make_task(config_for(JASPER, {"name": "linear_ls"}), tmp_path)
    (case,) = task.eval_cases("test")
    assert case.truth.shape == (50, 50, 187) and case.name == "jasper_ridge_198_right_bottom"
    assert task.regions == {"train": (0, 100, 0, 50), "val": (0, 50, 50, 100), "test": (50, 100, 50, 100)}
    assert not np.any((case.wavelengths >= 1350) & (case.wavelengths <= 1450))


@pytest.mark.parametrize("abundance_prior", [None, {"degree": 2}])
def test_resumed_inss_run_equals_the_uninterrupted_one_discriminators_included(
    scene_file, tmp_path, monkeypatch, abundance_prior
):
    """6 steps straight (cosine schedule over 6) == the same run killed after its first 3-step epoch and resumed with
    ``--resume``: generator and discriminator weights, their optimisers and the losses of every epoch; with the
    abundance prior, its fitted map comes back from the checkpoint too."""
    import hsinr.train as trainer
    from hsinr.checkpoint import read_checkpoint

    spec = tiny_inss(order=2)
    if abundance_prior is not None:
        spec["args"]["abundance_prior"] = abundance_prior
    config = config_for(
        scene_file,
        spec,
        data={"patches_per_epoch": 6},
        inss={"lambda_adv": 0.01, "d_every": 2, "spectra_per_batch": 16},
        train={"steps": 6, "schedule": "cosine"},
    )
    trainer.train(config, tmp_path / "straight", progress=False)

    class Interrupted(Exception):
        pass

    write = trainer.save_checkpoint

    def write_then_stop(path, *args, **kwargs):
        write(path, *args, **kwargs)
        if Path(path).name == trainer.LAST:
            raise Interrupted

    monkeypatch.setattr(trainer, "save_checkpoint", write_then_stop)
    with pytest.raises(Interrupted):
        trainer.train(config, tmp_path / "resumed", progress=False)
    half = read_checkpoint(tmp_path / "resumed" / "last.pt", training=True)
    assert half["training"]["step"] == 3 and half["training"]["task"]["discriminators"]["calls"] == 3
    monkeypatch.setattr(trainer, "save_checkpoint", write)
    trainer.train(config, tmp_path / "resumed", resume=True, progress=False)

    a, b = (read_checkpoint(tmp_path / run / "last.pt", training=True) for run in ("straight", "resumed"))
    assert ("abundance_prior.matrix" in a["state_dict"]) == (abundance_prior is not None)
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=1e-6)
    da, db = a["training"]["task"]["discriminators"], b["training"]["task"]["discriminators"]
    assert da["calls"] == db["calls"] == 6 and torch.equal(da["generator"], db["generator"])
    for part in ("spatial", "spectral"):
        for key, value in da[part].items():
            torch.testing.assert_close(db[part][key], value, rtol=0, atol=1e-6)
    for key, value in da["optimizer"]["state"][0].items():
        torch.testing.assert_close(db["optimizer"]["state"][0][key], value, rtol=0, atol=1e-6)
    assert not torch.equal(
        half["training"]["task"]["discriminators"]["spatial"]["net.0.weight"], da["spatial"]["net.0.weight"]
    )
    history = [
        [json.loads(line)["train_loss"] for line in (tmp_path / run / "history.jsonl").read_text().splitlines()]
        for run in ("straight", "resumed")
    ]
    assert history[0] == history[1] and len(history[0]) == 2


def test_resuming_inss_without_discriminator_state_is_refused(scene_file, tmp_path):
    task = make_task(config_for(scene_file, tiny_inss(), inss={"lambda_adv": 0.01}), tmp_path / "run")
    state = task.extra_state()
    assert set(state) == {"discriminators"}
    with pytest.raises(ConfigError, match="no discriminator state"):
        task.load_extra_state({})
    baseline = make_task(config_for(scene_file, {"name": "linear_ls"}), tmp_path / "ls")
    assert baseline.extra_state() == {}
    baseline.load_extra_state({})  # nothing to restore for a model without discriminators


def test_benchmark_seeds_train_each_method_per_seed_and_report_the_spread(scene_file, tmp_path):
    from hsinr.benchmark import run_benchmark

    config = config_for(scene_file, tiny_inss())
    config.pop("model")
    config["seeds"] = [0, 1]
    config["methods"] = [
        {"label": "Linear LS", "model": {"name": "linear_ls", "args": {"out_bands": BANDS.size}}},
        {"label": "INSS K=1", "model": tiny_inss(order=1)},
    ]
    config["evaluate"] = {"tile": 64, "figures": False}
    result = run_benchmark(config, tmp_path / "bench", progress=False)
    for label in ("linear_ls", "inss_k_1"):
        assert all((tmp_path / "bench" / "runs" / label / f"seed{seed}" / "best.pt").exists() for seed in (0, 1))
    per_seed = {row["seed"]: row for row in result["per_scene"] if row["method"] == "INSS K=1"}
    assert set(per_seed) == {0, 1} and per_seed[0]["psnr"] != per_seed[1]["psnr"]  # different initialisations
    rows = {row["method"]: row for row in result["rows"]}
    inss = rows["INSS K=1"]
    assert inss["seeds"] == 2 and inss["scenes"] == 1 and "psnr_std" not in inss
    assert inss["psnr"] == pytest.approx((per_seed[0]["psnr"] + per_seed[1]["psnr"]) / 2)
    assert inss["psnr_seed_std"] == pytest.approx(abs(per_seed[0]["psnr"] - per_seed[1]["psnr"]) / np.sqrt(2))
    assert rows["Linear LS"]["rmse_seed_std"] == pytest.approx(0.0, abs=1e-12)  # a closed form ignores the seed
    assert "[0, 1]" in str(result["protocol"]["seed"])
