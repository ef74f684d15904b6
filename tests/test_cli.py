"""The command line: info / render / metrics / reconstruct work, and user mistakes exit 2 with one clear line."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
import scipy.io

from hsinr.cli import main
from hsinr.cube import Cube, default_wavelengths
from hsinr.io import read_cube, read_rgb, write_cube, write_rgb


@pytest.fixture
def cube_file(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.uniform(0.05, 0.9, (16, 14, 31)).astype(np.float32)
    path = tmp_path / "scene.h5"
    write_cube(path, Cube(data, default_wavelengths(31)))
    return path, data


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_subcommands():
    result = subprocess.run([sys.executable, "-m", "hsinr.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("info", "render", "metrics", "train", "evaluate", "reconstruct", "benchmark", "demo", "synth"):
        assert command in result.stdout


def test_info_describes_a_cube(cube_file, capsys):
    path, _ = cube_file
    code, out, _ = run_cli(capsys, "info", path)
    assert code == 0
    assert "16 x 14 x 31" in out and "400.0-700.0 nm" in out


def test_render_flat_spectrum_gives_grey(tmp_path, capsys):
    path = tmp_path / "flat.npz"
    np.savez(path, cube=np.full((4, 5, 31), 0.5, np.float32), wavelengths=default_wavelengths(31))
    code, out, _ = run_cli(capsys, "render", path, "-o", tmp_path / "rgb.png", "--response", "srgb", "--bits", "16")
    assert code == 0
    rgb = read_rgb(tmp_path / "rgb.png")
    np.testing.assert_allclose(rgb, 0.5, atol=1 / 65535)


def test_metrics_of_identical_cubes(cube_file, capsys):
    path, _ = cube_file
    code, out, _ = run_cli(capsys, "metrics", path, path, "--json")
    assert code == 0
    assert '"psnr": 100.0' in out and '"sam": 0.0' in out


def test_metrics_with_known_error(cube_file, tmp_path, capsys):
    path, data = cube_file
    other = tmp_path / "pred.npy"
    np.save(other, data + 0.01)
    code, out, _ = run_cli(capsys, "metrics", path, other, "--json")
    assert code == 0
    import json

    assert json.loads(out)["psnr"] == pytest.approx(40.0, abs=1e-3)  # MSE 1e-4 in every band


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t, c: ["info", t / "missing.mat"], "missing.mat"),
        (lambda t, c: ["info", t / "cube.xyz"], "cube.xyz"),
        (lambda t, c: ["info", t / "only2d.mat"], "only2d.mat"),
        (lambda t, c: ["info", t / "nan.npy"], "NaN"),
        (lambda t, c: ["metrics", c, t / "bands7.npy"], "bands7.npy"),
        (lambda t, c: ["render", t / "nan.npy", "-o", t / "x.png"], "nan.npy"),
        (lambda t, c: ["render", c, "-o", t / "x.png", "--response", t / "nope.csv"], "nope.csv"),
        (lambda t, c: ["metrics", c, c, "--rgb", t / "small.png", "--response", "srgb"], "small.png"),
        (lambda t, c: ["reconstruct", t / "small.png", "--model", t / "missing.pt", "-o", t / "o.mat"], "missing.pt"),
        (lambda t, c: ["train", t / "missing.yaml"], "missing.yaml"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(tmp_path, cube_file, capsys, make_args, message):
    path, _ = cube_file
    (tmp_path / "cube.xyz").write_text("x")
    scipy.io.savemat(tmp_path / "only2d.mat", {"a": np.zeros((3, 4)), "b": np.ones(5)})
    bad = np.ones((4, 4, 31), np.float32)
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "bands7.npy", np.ones((16, 14, 7), np.float32))
    write_rgb(tmp_path / "small.png", np.zeros((3, 3, 3)))
    code, out, err = run_cli(capsys, *make_args(tmp_path, path))
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_info_and_render_on_real_cave(shared_data, tmp_path, capsys):
    mat = shared_data / "cave" / "balloons_256.mat"
    code, out, _ = run_cli(capsys, "info", mat)
    assert code == 0 and "256 x 256 x 31" in out
    srf = shared_data / "srf" / "nikon_d700_cave.mat"
    code, out, _ = run_cli(capsys, "render", mat, "-o", tmp_path / "rgb.png", "--response", srf, "--bits", "16")
    assert code == 0
    P = scipy.io.loadmat(srf)["P"]
    expected = np.clip(read_cube(mat).data @ P.T, 0, 1)
    np.testing.assert_allclose(read_rgb(tmp_path / "rgb.png"), expected, atol=1 / 65535 + 1e-6)
    code, out, _ = run_cli(capsys, "metrics", mat, shared_data / "cave" / "balloons_256.mat", "--json")
    assert code == 0


def test_reconstruct_streams_to_mat_and_matches_the_python_api(tmp_path, capsys):
    import torch

    from hsinr import reconstruct
    from hsinr.checkpoint import save_checkpoint
    from hsinr.models import make

    torch.manual_seed(0)
    spec = {
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
    model = make(spec)
    save_checkpoint(
        tmp_path / "m.pt", model, spec, {"wavelengths": default_wavelengths(31).tolist(), "srf": None, "response": None}
    )
    rgb = np.random.default_rng(0).random((45, 61, 3)).astype(np.float32)
    write_rgb(tmp_path / "in.png", rgb, bits=16)
    code, out, err = run_cli(
        capsys,
        "reconstruct",
        tmp_path / "in.png",
        "--model",
        tmp_path / "m.pt",
        "-o",
        tmp_path / "out.mat",
        "--tile",
        "16",
        "--preview",
        tmp_path / "p.png",
        "--quiet",
    )
    assert code == 0, err
    with h5py.File(tmp_path / "out.mat") as handle:  # v7.3 = HDF5
        assert "cube" in handle and "bands" in handle
    cube = read_cube(tmp_path / "out.mat")
    assert cube.shape == (45, 61, 31)
    expected = reconstruct(read_rgb(tmp_path / "in.png"), tmp_path / "m.pt", progress=False)
    np.testing.assert_allclose(cube.data, expected, atol=1e-4)
    assert read_rgb(tmp_path / "p.png").shape == (45, 61, 3)


def test_help_loads_neither_torch_nor_matplotlib():
    """`hsinr --help` (and argument errors) must be quick: building the parser imports no heavy library."""
    code = (
        "import sys\n"
        "from hsinr.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
