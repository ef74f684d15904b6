"""The training loop: loss goes down, checkpoints are self-describing, resume is exact, NaN stops cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hsinr.checkpoint import load_checkpoint, read_checkpoint
from hsinr.config import load_config
from hsinr.cube import Cube, default_wavelengths
from hsinr.errors import ConfigError, TrainingError
from hsinr.io import write_cube
from hsinr.tasks import make_task
from hsinr.train import train

TINY_MODEL = {
    "name": "inr_hsisr",
    "args": {
        "hyper_width": 16,
        "hyper_blocks": 1,
        "stem_width": 8,
        "mlp_width": 16,
        "mlp_hidden_layers": 2,
        "frequencies": 2,
        "norm_window": 3,
    },
}


def smooth_cube(rng, size=40, bands=31):
    """A cube whose spectra are smooth mixtures of 3 Gaussian bumps with spatially smooth weights."""
    wl = default_wavelengths(bands)
    basis = np.stack([np.exp(-0.5 * ((wl - c) / 60.0) ** 2) for c in (450, 550, 650)])
    yy, xx = np.mgrid[0:size, 0:size] / size
    weights = np.stack(
        [0.5 + 0.4 * np.sin(2 * np.pi * (f * xx + g * yy) + rng.uniform(0, 6)) for f, g in ((1, 0), (0, 1), (1, 1))],
        axis=-1,
    )
    return (weights @ basis * 0.6).astype(np.float32)


@pytest.fixture
def folder_dataset(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    root.mkdir()
    for i in range(5):
        write_cube(root / f"scene{i}.h5", Cube(smooth_cube(rng), default_wavelengths(31)))
    return root


def tiny_config(root, **train):
    config = load_config(
        None,
        [
            f"data.root={root}",
            "data.kind=folder",
            "data.patch_size=16",
            "data.patches_per_epoch=16",
            "train.batch_size=4",
            "train.lr=3e-3",
            "train.val_tile=32",
            "data.response=cie1964_xyz",
        ],
    )
    config["model"] = json.loads(json.dumps(TINY_MODEL))
    config["train"].update(train)
    return config


def test_a_few_epochs_lower_the_loss_and_write_checkpoints(folder_dataset, tmp_path):
    run = tmp_path / "run"
    summary = train(tiny_config(folder_dataset, epochs=6), run, progress=False)
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert len(history) == 6 and summary["epochs_run"] == 6
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]
    assert {"val_psnr", "val_sam", "val_ssim"} <= set(history[-1])
    for name in ("config.yaml", "split.json", "last.pt", "best.pt"):
        assert (run / name).exists(), name
    model, meta = load_checkpoint(run / "best.pt")
    assert meta["spec"] == TINY_MODEL
    assert len(meta["wavelengths"]) == 31 and np.asarray(meta["srf"]).shape == (3, 31)
    assert meta["split"]["train"] == json.loads((run / "split.json").read_text())["train"]
    assert set(meta["split"]) == {"train", "val", "test"}
    assert not model.training


def test_resume_continues_exactly(folder_dataset, tmp_path):
    """2 epochs straight == 1 epoch, stop, resume for 1 more (same weights, same next-step loss)."""
    straight = tmp_path / "straight"
    train(tiny_config(folder_dataset, epochs=2), straight, progress=False)
    split = tmp_path / "split"
    train(tiny_config(folder_dataset, epochs=1), split, progress=False)
    train(tiny_config(folder_dataset, epochs=2), split, resume=True, progress=False)
    a, b = read_checkpoint(straight / "last.pt"), read_checkpoint(split / "last.pt")
    for key in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][key], b["state_dict"][key], rtol=0, atol=0)
    hist_a = [json.loads(x) for x in (straight / "history.jsonl").read_text().splitlines()]
    hist_b = [json.loads(x) for x in (split / "history.jsonl").read_text().splitlines()]
    assert hist_a[1]["train_loss"] == hist_b[1]["train_loss"]


def test_save_every_writes_last_less_often_and_a_resume_repeats_the_unsaved_epochs(
    folder_dataset, tmp_path, monkeypatch
):
    """last.pt every 2 epochs; killed in epoch 4, the run resumes at epoch 3 and ends as the straight run did."""
    straight = tmp_path / "straight"
    train(tiny_config(folder_dataset, epochs=4, save_every=2), straight, progress=False)
    from hsinr.tasks import spectral_sr as tasks

    original, calls = tasks.SpectralSRTask.loss, []

    def killed_in_epoch_four(self, model, batch):
        calls.append(1)
        if len(calls) > 3 * 4:  # 4 steps per epoch
            raise KeyboardInterrupt
        return original(self, model, batch)

    killed = tmp_path / "killed"
    monkeypatch.setattr(tasks.SpectralSRTask, "loss", killed_in_epoch_four)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(folder_dataset, epochs=4, save_every=2), killed, progress=False)
    assert read_checkpoint(killed / "last.pt")["meta"]["epoch"] == 2  # epoch 3 was not written
    assert len((killed / "history.jsonl").read_text().splitlines()) == 3
    monkeypatch.setattr(tasks.SpectralSRTask, "loss", original)
    train(tiny_config(folder_dataset, epochs=4, save_every=2), killed, resume=True, progress=False)
    a, b = read_checkpoint(straight / "last.pt"), read_checkpoint(killed / "last.pt")
    assert a["meta"]["epoch"] == b["meta"]["epoch"] == 4
    for key in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][key], b["state_dict"][key], rtol=0, atol=0)
    hist_a = [json.loads(x) for x in (straight / "history.jsonl").read_text().splitlines()]
    hist_b = [json.loads(x) for x in (killed / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist_b] == [1, 2, 3, 4]
    assert [h["train_loss"] for h in hist_a] == [h["train_loss"] for h in hist_b]


def test_weight_average_follows_its_decay_and_copies_buffers():
    from hsinr.train import update_weight_average, weight_average

    model = torch.nn.BatchNorm1d(2)  # a parameter (weight) and buffers (running statistics)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = weight_average(model, 0.5)
    expected = 1.0
    for t, value in enumerate([3.0, 5.0, 9.0]):
        with torch.no_grad():
            model.weight.fill_(value)
            model.running_mean.fill_(value)
        update_weight_average(ema, model)
        keep = min(0.5, (1 + t) / (10 + t)) if t > 0 else 0.0  # the first update copies the weights
        expected = keep * expected + (1 - keep) * value
        torch.testing.assert_close(ema.module.weight, torch.full((2,), expected))
        torch.testing.assert_close(ema.module.running_mean, torch.full((2,), value))
    assert expected != pytest.approx(9.0)  # an average, not the last weights
    with pytest.raises(ConfigError, match="train.ema"):
        weight_average(model, 1.0)


def test_ema_run_saves_the_average_and_resumes_exactly(folder_dataset, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(tiny_config(folder_dataset, epochs=2, ema=0.9), straight, progress=False)
    train(tiny_config(folder_dataset, epochs=1, ema=0.9), split, progress=False)
    train(tiny_config(folder_dataset, epochs=2, ema=0.9), split, resume=True, progress=False)
    a, b = read_checkpoint(straight / "last.pt"), read_checkpoint(split / "last.pt")
    for key in a["state_dict"]:  # the averages and the raw weights both continue exactly
        torch.testing.assert_close(a["state_dict"][key], b["state_dict"][key], rtol=0, atol=0)
        torch.testing.assert_close(a["training"]["raw_weights"][key], b["training"]["raw_weights"][key], rtol=0, atol=0)
    assert a["training"]["ema_updates"] == 8  # 2 epochs x 4 steps
    moved = [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k], a["training"]["raw_weights"][k])]
    assert moved  # the saved weights are the average, not the raw ones
    train(tiny_config(folder_dataset, epochs=1), tmp_path / "plain", progress=False)
    with pytest.raises(ConfigError, match="train.ema"):  # a run made without an average cannot resume with one
        train(tiny_config(folder_dataset, epochs=2, ema=0.9), tmp_path / "plain", resume=True, progress=False)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(folder_dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(tiny_config(folder_dataset, epochs=1), run, progress=False)
    before = (run / "last.pt").read_bytes()
    config = tiny_config(folder_dataset, epochs=3)
    from hsinr.tasks import spectral_sr as tasks

    original = tasks.SpectralSRTask.loss

    def exploding(self, model, batch):
        loss, logs = original(self, model, batch)
        return loss * float("nan"), logs

    monkeypatch.setattr(tasks.SpectralSRTask, "loss", exploding)
    with pytest.raises(TrainingError, match="loss is nan"):
        train(config, run, resume=True, progress=False)
    assert (run / "last.pt").read_bytes() == before


def test_split_is_written_and_reused(folder_dataset, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(folder_dataset)
    first = make_task(config, run).split
    config["data"]["split"] = {"ratios": [0.2, 0.4, 0.4], "seed": 5}  # ignored: the written split wins
    assert make_task(config, run).split == first
    assert sorted(sum(first.values(), [])) == [f"scene{i}" for i in range(5)]


def test_benchmark_labels_give_distinct_run_folders():
    from hsinr.benchmark import slug

    assert slug("PriNET") != slug("PriNET+") and slug("MST++") == "mstplusplus"


def test_training_free_recovery_gets_the_tasks_response_and_is_self_describing(folder_dataset, tmp_path):
    config = tiny_config(folder_dataset, epochs=1)
    config["model"] = {"name": "otsu2018", "args": {}}
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["stopped"] == "closed form" and summary["best_val_psnr"] > 10
    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert np.asarray(meta["spec"]["args"]["srf"]).shape == (3, 31)
    assert meta["spec"]["args"]["wavelengths"] == meta["wavelengths"]


def test_the_budget_is_optimiser_steps(folder_dataset, tmp_path):
    """16 patches / batch 4 = 4 steps per epoch: a 6-step budget runs one full epoch and 2 steps of the next."""
    summary = train(tiny_config(folder_dataset, steps=6, epochs=1000), tmp_path / "run", progress=False)
    history = [json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [4, 6]
    assert summary["stopped"] == "steps" and summary["steps"] == 6
    assert all(h["cpu_seconds"] >= 0 for h in history)


def test_without_validation_scenes_best_is_the_last_state(folder_dataset, tmp_path):
    config = tiny_config(folder_dataset, epochs=3)
    config["data"]["split"] = {"ratios": [1.0, 0.0, 0.0], "seed": 0}
    train(config, tmp_path / "run", progress=False)
    best, last = read_checkpoint(tmp_path / "run" / "best.pt"), read_checkpoint(tmp_path / "run" / "last.pt")
    assert best["meta"]["epoch"] == last["meta"]["epoch"] == 3
    for key in best["state_dict"]:
        assert torch.equal(best["state_dict"][key], last["state_dict"][key])


def test_the_configured_loss_is_used(folder_dataset, tmp_path):
    from hsinr.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown term"):
        train(tiny_config(folder_dataset, epochs=1, loss="l2"), tmp_path / "bad", progress=False)
    # lr 0: the same model and patches in both runs, so only the loss differs; per batch MSE ≥ L1² (Jensen)
    l1 = train(tiny_config(folder_dataset, epochs=1, lr=0.0), tmp_path / "l1", progress=False)["last"]["train_loss"]
    mse = train(tiny_config(folder_dataset, epochs=1, lr=0.0, loss="mse"), tmp_path / "mse", progress=False)
    assert mse["last"]["train_loss"] >= l1**2 and mse["last"]["train_loss"] != pytest.approx(l1)


def test_prior_residual_is_fitted_before_training_and_resumes(folder_dataset, tmp_path):
    config = tiny_config(folder_dataset, epochs=1, schedule="cosine", warmup_steps=2, weight_decay=1e-4)
    config["model"] = {"name": "prior_residual", "args": {"residual": TINY_MODEL, "consistency": True}}
    config["data"]["augment"] = {"dihedral": True, "relight": 0.3, "exposure": [0.5, 1.5]}
    run = tmp_path / "run"
    train(config, run, progress=False)
    model, meta = load_checkpoint(run / "last.pt")
    assert bool(model.prior.fitted) and np.asarray(meta["spec"]["args"]["srf"]).shape == (3, 31)
    prior = model.prior.matrix.clone()
    config["train"]["epochs"] = 2
    train(config, run, resume=True, progress=False)
    resumed, _ = load_checkpoint(run / "last.pt")
    assert torch.equal(resumed.prior.matrix, prior)  # the prior is fitted once, not again on resume


def test_mixup_is_configured_with_a_rerendering_transform(folder_dataset, tmp_path):
    """``data.augment.mix`` turns on scene mixup; the RGB is re-rendered from the blended cube (a Relight that
    may be the identity light), so it needs the camera response."""
    from hsinr.data.augment import Relight
    from hsinr.errors import ConfigError

    config = tiny_config(folder_dataset, epochs=1)
    config["data"]["augment"] = {"dihedral": True, "mix": 0.5}
    dataset = make_task(config, tmp_path / "run").train_dataset(seed=0)
    assert dataset.mix == 0.5 and isinstance(dataset.transform.transforms[0], Relight)
    train(config, tmp_path / "trained", progress=False)
    config["data"]["response"] = None
    with pytest.raises(ConfigError, match="mix need data.response"):
        make_task(config, tmp_path / "no_response").train_dataset(seed=0)


def test_extra_train_scenes_join_the_training_subset_only(folder_dataset, tmp_path):
    """``data.extra_train`` adds (here synthetic) scenes to training: never to validation or test, not to
    split.json, and the patch dataset draws from them."""
    config = tiny_config(folder_dataset, epochs=1)
    config["data"]["extra_train"] = {"kind": "synthetic", "synthetic": {"count": 2, "size": 32, "seed": 3}}
    run = tmp_path / "run"
    task = make_task(config, run)
    extra = [name for name in task.split["train"] if name.startswith("extra/")]
    assert len(extra) == 2
    assert not any(name.startswith("extra/") for name in task.split["val"] + task.split["test"])
    assert "extra/" not in (run / "split.json").read_text()
    dataset = task.train_dataset(seed=0)
    assert len(dataset.pairs) == len(task.split["train"])
    assert {pair.name for pair in dataset.pairs} >= set(extra)
    assert all(pair.cube.shape[-1] == 31 and pair.rgb.shape[-1] == 3 for pair in dataset.pairs)
    assert any("data.extra_train" in line for line in task.protocol_lines())
    assert task.meta()["data"]["extra_train"] == config["data"]["extra_train"]  # the registry names them


def test_benchmark_reuses_a_run_when_only_a_null_default_was_added():
    from hsinr.benchmark import _comparable, _without_nulls

    before = {"name": "a", "seed": 0, "train": {"steps": 10, "init_from": None, "device": "cpu"}}
    after = {"name": "b", "seed": 0, "train": {"steps": 10, "init_from": None, "ema": None, "device": "cuda"}}
    assert _comparable(before) != _comparable(after)
    assert _without_nulls(_comparable(before)) == _without_nulls(_comparable(after))  # train.ema added, off
    switched_on = {**after, "train": {**after["train"], "ema": 0.999}}
    assert _without_nulls(_comparable(before)) != _without_nulls(_comparable(switched_on))


def test_benchmark_protocol_joins_the_generic_split_with_the_scenes_the_task_drew():
    from hsinr.benchmark import protocol_of

    config = load_config(None)
    config["data"]["split"] = {"ratios": [0.6, 0.2, 0.2], "seed": 0}
    lines = ["split: train 16, val 5, test 5 scenes (written to split.json)", "input: linear RGB"]
    protocol = protocol_of(config, lines)
    assert protocol["split"] == (
        "data.split = {'ratios': [0.6, 0.2, 0.2], 'seed': 0}: train 16, val 5, test 5 scenes (written to split.json)"
    )
    assert protocol["input"] == "linear RGB" and not any("(task)" in key for key in protocol)
    assert "per-method overrides" not in protocol
    regions = protocol_of(config, ["regions: train = a, rows [0, 10) × columns [0, 5)"])
    assert "split" not in regions and regions["regions"].startswith("train = a")


def test_an_explicit_split_in_a_config_file_drops_the_default_ratios(tmp_path):
    from hsinr.benchmark import protocol_of

    path = tmp_path / "config.yaml"
    path.write_text("data: {split: {train: [a, b], val: [c], test: [d]}}\n")
    config = load_config(path)
    assert config["data"]["split"] == {"train": ["a", "b"], "val": ["c"], "test": ["d"]}
    assert protocol_of(config, [])["split"] == "data.split = {'train': ['a', 'b'], 'val': ['c'], 'test': ['d']}"
    path.write_text("data: {split: {seed: 3}}\n")  # ratios left out: the default ratios still apply
    assert load_config(path)["data"]["split"] == {"ratios": [0.6, 0.2, 0.2], "seed": 3}


def test_benchmark_protocol_names_explicit_folds_and_each_methods_overrides():
    from hsinr.benchmark import protocol_of

    config = load_config(None)
    config["folds"] = [{"train": ["a", "b"], "val": [], "test": ["c"]}]
    config["methods"] = [
        {"label": "LS", "model": {"name": "linear_ls"}},
        {"label": "INR", "model": {"name": "inr_hsisr"}, "train": {"loss": "psnr"}, "data": {"augment": False}},
    ]
    protocol = protocol_of(config, ["split: train 2, val 0, test 1 scenes (written to split.json)"])
    assert protocol["split"] == "1 explicit fold: train 2, val 0, test 1 scenes (written to split.json)"
    assert protocol["per-method overrides"] == "INR: train.loss=psnr, data.augment=False"
    config["folds"].append({"train": ["a", "c"], "val": ["b"], "test": ["d", "e"]})
    last_fold = "split: train 2, val 1, test 2 scenes (written to split.json)"  # the task's line: not every fold's
    expected = "2 explicit folds (each scene tested once): train 2/2, val 0/1, test 1/2 scenes"
    assert protocol_of(config, [last_fold])["split"] == expected


def test_init_from_starts_from_another_runs_weights_and_refits_the_prior(folder_dataset, tmp_path):
    config = tiny_config(folder_dataset, epochs=2)
    config["model"] = {"name": "prior_residual", "args": {"degree": 2, "residual": json.loads(json.dumps(TINY_MODEL))}}
    train(config, tmp_path / "pre", progress=False)
    pre, _ = load_checkpoint(tmp_path / "pre" / "last.pt")

    # fine-tune on other scenes with a learning rate too small to move anything: the learned weights are the
    # pre-trained ones, the least-squares prior is fitted again on the new training scenes
    other = tmp_path / "other"
    other.mkdir()
    rng = np.random.default_rng(7)
    for i in range(4):
        write_cube(other / f"other{i}.h5", Cube(smooth_cube(rng) ** 2, default_wavelengths(31)))
    tuned_config = json.loads(json.dumps(config))
    tuned_config["data"]["root"] = str(other)
    tuned_config["train"].update(epochs=1, lr=1e-12, init_from=str(tmp_path / "pre" / "last.pt"))
    train(tuned_config, tmp_path / "tuned", progress=False)
    tuned, _ = load_checkpoint(tmp_path / "tuned" / "last.pt")
    for (name, a), b in zip(pre.residual.state_dict().items(), tuned.residual.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)
    assert not torch.allclose(pre.prior.matrix, tuned.prior.matrix)

    # a checkpoint of another model is refused in one line naming it
    scratch = json.loads(json.dumps(tuned_config))
    scratch["model"] = json.loads(json.dumps(TINY_MODEL))
    with pytest.raises(ConfigError, match=r"pre[/\\]last\.pt: train\.init_from holds model prior_residual"):
        train(scratch, tmp_path / "scratch", progress=False)


def test_losses_read_in_a_group_name_the_first_non_finite_step(tmp_path):
    from hsinr.train import _checked_losses

    assert _checked_losses([torch.tensor(0.5), torch.tensor(0.25)], 0, 2, tmp_path) == [0.5, 0.25]
    assert _checked_losses([], 0, 7, tmp_path) == []
    group = [torch.tensor(0.5), torch.tensor(float("inf")), torch.tensor(float("nan"))]
    with pytest.raises(TrainingError, match=r"epoch 3, step 11: loss is inf; stopped\. No checkpoint was written yet"):
        _checked_losses(group, 2, 12, tmp_path)  # steps 10, 11, 12: the first bad one is step 11


def test_a_misspelt_model_argument_is_refused_before_anything_is_written(folder_dataset, tmp_path):
    config = tiny_config(folder_dataset)
    config["model"]["args"]["hyper_widht"] = 32
    with pytest.raises(ConfigError, match="'inr_hsisr': unknown argument 'hyper_widht'; did you mean 'hyper_width'"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    nested = {"name": "prior_residual", "args": {"residual": {"name": "inr_hsisr", "args": {"cel_size": 8}}}}
    with pytest.raises(ConfigError, match="unknown argument 'cel_size'; did you mean 'cell_size'"):
        train({**tiny_config(folder_dataset), "model": nested}, tmp_path / "run")


def test_every_model_spec_in_the_shipped_configs_names_only_arguments_its_model_takes():
    from pathlib import Path

    import yaml

    from hsinr.models.registry import check_spec

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))
    specs = []
    for path in configs:
        config = yaml.safe_load(path.read_text()) or {}
        specs += [(path.name, config["model"])] if "model" in config else []
        specs += [(f"{path.name}: {m.get('label')}", m["model"]) for m in config.get("methods") or []]
    assert len(specs) > 50
    for where, spec in specs:
        try:
            check_spec(spec)
        except ConfigError as exc:
            pytest.fail(f"{where}: {exc}")
