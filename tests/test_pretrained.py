"""Pretrained weights: registry, SHA-256 check, name vs path, registration, ``hsinr models``, default model in the CLI.

Every test builds a tiny checkpoint and a registry of its own in a temporary folder (``HSINR_PRETRAINED_DIR``); the
package ships no fake weight.
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from hsinr.checkpoint import save_checkpoint
from hsinr.cli import main
from hsinr.complexity import count_parameters
from hsinr.cube import default_wavelengths
from hsinr.errors import ConfigError, DataError
from hsinr.input_check import input_warnings
from hsinr.io import read_cube, read_rgb, write_rgb
from hsinr.models import make
from hsinr.pretrained import (
    ENV_DIR,
    file_sha256,
    load_model,
    read_registry,
    register_weights,
    registry_dir,
    resolve,
)
from hsinr.pretrained.registry import write_registry
from hsinr.spectral import builtin_response

ROOT = Path(__file__).resolve().parents[1]
WAVELENGTHS = default_wavelengths(31)
TINY_INR = {
    "name": "inr_hsisr",
    "args": {
        "hyper_width": 16,
        "hyper_blocks": 1,
        "stem_width": 8,
        "mlp_width": 8,
        "mlp_hidden_layers": 2,
        "frequencies": 2,
        "norm_window": 3,
    },
}


def fitted_ls_checkpoint(path: Path, training: bool = True) -> torch.nn.Module:
    """A root-polynomial least-squares map fitted on smooth random spectra rendered with the sRGB response."""
    srf = builtin_response("srgb", WAVELENGTHS).srf
    rng = np.random.default_rng(0)
    basis = np.stack([np.exp(-0.5 * ((WAVELENGTHS - c) / 40.0) ** 2) for c in (430, 500, 560, 620, 680)])
    spectra = rng.uniform(0.0, 1.0, (500, 5)) @ basis / 2.0
    spec = {"name": "root_polynomial_ls", "args": {"out_bands": 31, "degree": 2}}
    model = make(spec).fit(spectra @ srf.T, spectra)
    meta = {
        "wavelengths": WAVELENGTHS.tolist(),
        "srf": srf.tolist(),
        "response": "srgb",
        "epoch": 0,
        "rgb_stats": {
            "chromaticity_min": [0.30, 0.30, 0.25],
            "chromaticity_max": [0.38, 0.38, 0.36],
            "mean_level": 0.2,
        },
        "data": {"kind": "cave", "root": "/somewhere/cave_256"},
        "split": {"train": ["a", "b", "c"]},
    }
    state = {"optimizer": {"state": {}}, "step": 7, "epoch": 0} if training else None
    save_checkpoint(path, model, spec, meta, state)
    return model


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An empty registry folder used by every hsinr function (``HSINR_PRETRAINED_DIR``)."""
    folder = tmp_path / "registry"
    monkeypatch.setenv(ENV_DIR, str(folder))
    return folder


@pytest.fixture
def tiny(tmp_path, registry):
    """A registry holding ``tiny`` (default), registered from a checkpoint with training state; returns the model."""
    model = fitted_ls_checkpoint(tmp_path / "run" / "best.pt")
    register_weights(tmp_path / "run", "tiny", heldout={"psnr": 31.25, "sam": 7.5})
    return model


def rgb_batch() -> torch.Tensor:
    return torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(1))


def test_register_strips_training_state_and_records_what_the_file_is(tmp_path, tiny, registry):
    shipped = registry / "weights" / "tiny.pt"
    payload = torch.load(shipped, weights_only=False)
    assert "training" not in payload and set(payload) == {"format", "name", "args", "state_dict", "meta"}
    entry = read_registry()["models"]["tiny"]
    assert entry["sha256"] == file_sha256(shipped) and len(entry["sha256"]) == 64
    assert entry["bytes"] == shipped.stat().st_size
    assert entry["file"] == "weights/tiny.pt" and entry["response"] == "srgb"
    assert entry["architecture"] == {"name": "root_polynomial_ls", "args": {"out_bands": 31, "degree": 2}}
    assert entry["parameters"] == 0  # a closed-form map: its matrix is a buffer, not a learned parameter
    assert entry["steps"] == 7  # from the checkpoint's training state
    assert entry["training_data"] == "cave: cave_256 (3 training scenes)"
    assert entry["heldout"] == {"psnr": 31.25, "sam": 7.5}
    assert read_registry()["default"] == "tiny"  # the first registered model becomes the default


def test_registry_name_loads_the_verified_file_with_the_same_outputs(tiny):
    model, meta = load_model("tiny")
    assert meta["pretrained"]["name"] == "tiny" and meta["source"] == "pretrained:tiny"
    assert meta["response"] == "srgb" and meta["spec"]["name"] == "root_polynomial_ls"
    x = rgb_batch()
    torch.testing.assert_close(model(x), tiny(x))
    default_model, default_meta = load_model(None)  # the default is the registry's
    assert default_meta["pretrained"]["name"] == "tiny"


def test_sha256_mismatch_is_one_clear_error(tiny, registry, tmp_path, capsys):
    shipped = registry / "weights" / "tiny.pt"
    shipped.write_bytes(shipped.read_bytes() + b"\0")
    with pytest.raises(ConfigError, match=r"SHA-256 .* but the registry expects .*corrupted"):
        load_model("tiny")
    write_rgb(tmp_path / "in.png", np.full((6, 7, 3), 0.4, np.float32), bits=16)
    code = main(["reconstruct", str(tmp_path / "in.png"), "--model", "tiny", "-o", str(tmp_path / "o.npy")])
    err = capsys.readouterr().err
    assert code == 2 and "SHA-256" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_name_versus_path(tiny, tmp_path, monkeypatch):
    path = tmp_path / "run" / "best.pt"
    assert resolve("tiny") == ("name", "tiny")
    assert resolve(str(path)) == ("path", str(path))
    assert resolve(path) == ("path", str(path))
    assert resolve("./tiny") == ("path", "./tiny")  # an explicit folder means a file, never a registry name
    model, meta = load_model(str(path))  # a checkpoint path: no registry entry, no hash check
    assert "pretrained" not in meta and meta["source"] == str(path)
    x = rgb_batch()
    torch.testing.assert_close(model(x), tiny(x))
    with pytest.raises(ConfigError, match="neither a pretrained model name .*tiny.* nor a checkpoint file"):
        load_model("nope")
    with pytest.raises(ConfigError, match="no such checkpoint file"):
        load_model(str(tmp_path / "missing.pt"))
    monkeypatch.chdir(tmp_path / "run")  # a bare file name that exists is read as a path when it is no registry name
    assert resolve("best.pt") == ("path", "best.pt")


def test_parameter_count_and_steps_from_history(tmp_path, registry):
    torch.manual_seed(0)
    model = make(TINY_INR)
    run = tmp_path / "inr"
    save_checkpoint(
        run / "best.pt",
        model,
        TINY_INR,
        {"wavelengths": WAVELENGTHS.tolist(), "srf": None, "response": None, "epoch": 2},
    )
    (run / "history.jsonl").write_text(
        "\n".join(
            json.dumps(r) for r in [{"epoch": 1, "step": 40}, {"epoch": 2, "step": 80}, {"epoch": 3, "step": 120}]
        )
        + "\n"
    )
    entry, warnings = register_weights(run, "inr", training_data="synthetic scenes")
    assert entry["parameters"] == count_parameters(model) > 1000
    assert entry["steps"] == 80  # best.pt was written at epoch 2
    assert entry["training_data"] == "synthetic scenes" and warnings == []
    loaded, _ = load_model("inr")
    stored = torch.load(registry / "weights" / "inr.pt", weights_only=True)["state_dict"]
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}  # half the bytes
    x = rgb_batch()[:, :, :8, :8]
    with torch.no_grad():  # float16 storage changes the outputs by a few 1e-4 of their scale, not more
        reference = model.eval()(x)
        torch.testing.assert_close(loaded(x), reference, atol=2e-3 * float(reference.abs().max()), rtol=0)


def test_planned_entry_without_weights_says_so(registry, tmp_path, capsys):
    write_registry(
        {
            "default": "srgb",
            "models": {"srgb": {"file": "weights/srgb.pt", "sha256": None, "config": "configs/pretrained/srgb.yaml"}},
        }
    )
    with pytest.raises(ConfigError, match="not shipped with this installation yet.*configs/pretrained/srgb.yaml"):
        load_model()
    write_rgb(tmp_path / "photo.jpg", np.full((6, 7, 3), 0.4, np.float32))
    code = main(["reconstruct", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "cube.h5")])
    err = capsys.readouterr().err
    assert code == 2 and "'srgb'" in err and "not shipped" in err
    assert err.startswith("hsinr reconstruct: error:") and len(err.strip().splitlines()) == 1


def test_reconstruct_without_model_uses_the_default_and_decodes_srgb(tiny, tmp_path, capsys):
    import hsinr
    from hsinr.spectral.encoding import srgb_decode

    rng = np.random.default_rng(3)
    write_rgb(tmp_path / "photo.png", rng.uniform(0.2, 0.7, (12, 10, 3)).astype(np.float32))  # 8-bit
    code = main(["reconstruct", str(tmp_path / "photo.png"), "-o", str(tmp_path / "cube.npy"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "8-bit values: decoding them as sRGB" in err
    cube = read_cube(tmp_path / "cube.npy").data
    linear = srgb_decode(read_rgb(tmp_path / "photo.png"))
    with torch.no_grad():
        direct = tiny(torch.from_numpy(linear.transpose(2, 0, 1))[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(cube, direct, rtol=1e-4, atol=1e-6)  # least squares is exposure-invariant
    api = hsinr.reconstruct(read_rgb(tmp_path / "photo.png"), input="srgb", progress=False)
    np.testing.assert_allclose(api, cube, rtol=1e-5, atol=1e-7)


def test_camera_mismatch_warning_applies_to_registry_models(tiny):
    _, meta = load_model("tiny")
    reddish = np.zeros((4, 4, 3), np.float32)
    reddish[..., 0] = 0.8
    reddish[..., 1:] = 0.05
    warnings = input_warnings(reddish, meta, "photo.png")
    assert len(warnings) == 1 and "outside the training range" in warnings[0] and "'srgb'" in warnings[0]
    assert input_warnings(np.full((4, 4, 3), 0.3, np.float32), meta, "grey.png") == []


def test_models_command_lists_the_registry(tiny, capsys):
    code = main(["models"])
    out = capsys.readouterr().out
    assert code == 0
    sha = read_registry()["models"]["tiny"]["sha256"]
    row = next(line for line in out.splitlines() if line.startswith("tiny"))
    for text in (
        "tiny *",
        "srgb",
        "root_polynomial_ls",
        "cave: cave_256 (3 training scenes)",
        "31.25 dB / 7.5°",
        sha[:12],
    ):
        assert text in row
    assert sha[:13] not in row
    code = main(["models", "--json"])
    assert json.loads(capsys.readouterr().out)["models"]["tiny"]["sha256"] == sha


def test_register_script_and_its_user_errors(tmp_path, registry, capsys):
    spec = importlib.util.spec_from_file_location("register_pretrained", ROOT / "benchmarks" / "register_pretrained.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    fitted_ls_checkpoint(tmp_path / "run" / "best.pt", training=False)
    (tmp_path / "scores.json").write_text(json.dumps({"psnr": 30.0, "sam": 9.0, "protocol": "seeded split"}))
    code = script.main(
        [
            str(tmp_path / "run"),
            "--name",
            "srgb",
            "--heldout",
            str(tmp_path / "scores.json"),
            "--registry",
            str(tmp_path / "other"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and json.loads(out)["heldout"]["protocol"] == "seeded split"
    assert (tmp_path / "other" / "weights" / "srgb.pt").is_file() and not (registry / "registry.json").exists()
    assert read_registry(tmp_path / "other")["models"]["srgb"]["steps"] == 0  # closed form (epoch 0), no history
    code = script.main([str(tmp_path / "nothing"), "--name", "srgb"])
    err = capsys.readouterr().err
    assert code == 2 and "no such checkpoint" in err and len(err.strip().splitlines()) == 1
    code = script.main([str(tmp_path / "run"), "--name", "bad name"])
    assert code == 2 and "letters, digits" in capsys.readouterr().err


def test_package_registry_lists_the_three_responses_and_is_package_data(monkeypatch):
    monkeypatch.delenv(ENV_DIR, raising=False)
    package = registry_dir()
    assert package == ROOT / "src" / "hsinr" / "pretrained"
    registry = read_registry()
    assert registry["default"] == "srgb"
    assert {"srgb", "cie1964", "nikon_d700_cave"} <= set(registry["models"])
    for name, entry in registry["models"].items():
        assert entry["file"] == f"weights/{name}.pt"
        if entry["sha256"]:  # a shipped weight must be present and match (run by the package's own test suite)
            assert file_sha256(package / entry["file"]) == entry["sha256"]
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"registry.json", "weights/*.pt"} <= set(data["hsinr.pretrained"])


def test_training_data_names_the_extra_synthetic_scenes():
    from hsinr.pretrained.register import describe_training_data

    meta = {"data": {"kind": "cave", "root": "../shared/data/cave_256"}, "split": {"train": ["a"] * 26}}
    assert describe_training_data(meta) == "cave: cave_256 (26 training scenes)"
    meta["data"]["extra_train"] = {"kind": "synthetic", "synthetic": {"count": 8, "size": 256, "seed": 0}}
    meta["split"]["train"] += [f"extra/synthetic_{i}" for i in range(8)]  # the task's training subset holds both
    assert describe_training_data(meta) == "cave: cave_256 (26 training scenes) + 8 synthetic scenes"


@pytest.mark.parametrize("size", [(1, 1), (3, 40)])
def test_shipped_default_model_reconstructs_images_smaller_than_its_cells(size, monkeypatch, tmp_path, capsys):
    """The shipped weights (8-px cells, reflection padding) take a single pixel or a 3-px strip of a photo."""
    monkeypatch.delenv(ENV_DIR, raising=False)
    rng = np.random.default_rng(4)
    write_rgb(tmp_path / "crop.png", rng.uniform(0.2, 0.7, (*size, 3)).astype(np.float32))
    code = main(["reconstruct", str(tmp_path / "crop.png"), "-o", str(tmp_path / "cube.npy"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    cube = read_cube(tmp_path / "cube.npy").data
    assert cube.shape == (*size, 31) and np.isfinite(cube).all() and cube.max() > 0


def test_a_black_photo_is_one_line_naming_it(monkeypatch, tmp_path, capsys):
    """The shipped default normalises the exposure; a black image has none: exit 2, its name, the way out."""
    monkeypatch.delenv(ENV_DIR, raising=False)
    write_rgb(tmp_path / "black.png", np.zeros((8, 8, 3), np.float32))
    code = main(["reconstruct", str(tmp_path / "black.png"), "-o", str(tmp_path / "cube.npy"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "black.png: the image is black" in err[-1] and "--keep-exposure" in err[-1]
    assert not (tmp_path / "cube.npy").exists()
    assert main(["reconstruct", str(tmp_path / "black.png"), "-o", str(tmp_path / "cube.npy"), "--keep-exposure"]) == 0


def test_the_python_api_scales_integer_arrays_by_their_type(tiny):
    """uint8 and uint16 arrays are divided by 255 and 65535 as image files are; uint8 is decoded as sRGB by
    default (a photo, as ``hsinr reconstruct`` decides for an 8-bit file), uint16 read as linear."""
    import hsinr
    from hsinr.spectral.encoding import srgb_decode

    rng = np.random.default_rng(5)
    eight = rng.integers(20, 230, (6, 7, 3), dtype=np.uint8)
    expected = hsinr.reconstruct(srgb_decode(eight / np.float32(255)), input="linear", progress=False)
    np.testing.assert_allclose(hsinr.reconstruct(eight, progress=False), expected, rtol=1e-5, atol=1e-7)
    sixteen = rng.integers(5000, 60000, (6, 7, 3), dtype=np.uint16)
    expected = hsinr.reconstruct(sixteen / np.float32(65535), progress=False)
    np.testing.assert_allclose(hsinr.reconstruct(sixteen, progress=False), expected, rtol=1e-5, atol=1e-7)
    with pytest.raises(DataError, match="unsupported pixel type int64"):
        hsinr.reconstruct(eight.astype(np.int64), progress=False)
