"""Reliability (issue 15; the list is docs/reliability.md): lose nothing, run nothing we did not ask for, answer every
mistake in one line. Every file is small and written by the test."""

from __future__ import annotations

import contextlib
import errno
import json
import struct
import subprocess
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile
import torch

from hsinr.checkpoint import (
    FORMAT,
    read_checkpoint,
    rng_state_tensors,
    save_checkpoint,
    set_rng_state_tensors,
)
from hsinr.cli import main
from hsinr.config import DEFAULTS, load_config
from hsinr.cube import Cube, default_wavelengths
from hsinr.errors import ConfigError, DataError
from hsinr.io import open_cube_writer, read_cube, read_rgb, write_cube, write_rgb
from hsinr.io.atomic import atomic_path, is_temporary
from hsinr.io.matlab import USERBLOCK_BYTES, _write_matlab_header
from hsinr.models import make
from hsinr.run_folder import claim_run_folder

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))
STREAMED = (".h5", ".mat", ".hdr", ".npy")


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code, err, *words):
    assert code == 2, err
    assert err.strip().count("\n") == 0, err
    for word in words:
        assert word in err, err


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if is_temporary(p)]


@pytest.fixture(autouse=True)
def read_limit(monkeypatch):
    """The same memory limit on every machine: 256 MiB per array."""
    monkeypatch.setenv("HSINR_MAX_READ_BYTES", str(256 * 2**20))


@pytest.fixture
def tiny_model(tmp_path):
    """A 3 → 31 linear map checkpoint (zero weights are enough to test the plumbing)."""
    spec = {"name": "linear_ls", "args": {"out_bands": 31}}
    path = tmp_path / "m.pt"
    save_checkpoint(
        path, make(spec), spec, {"wavelengths": default_wavelengths(31).tolist(), "srf": None, "response": None}
    )
    return path


@pytest.fixture
def rgb_png(tmp_path):
    path = tmp_path / "in.png"
    write_rgb(path, np.random.default_rng(0).random((20, 24, 3)).astype(np.float32))
    return path


# ------------------------------------------------------------------------------------------------ checkpoints


class _Payload:
    """Unpickling this creates the file ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_payload_hidden_in_meta_is_refused_and_never_runs(tmp_path, rgb_png, capsys):
    marker = tmp_path / "pwned"
    spec = {"name": "linear_ls", "args": {}}
    state = make(spec).state_dict()
    evil = tmp_path / "evil.pt"
    torch.save(
        {
            "format": FORMAT,
            "name": "linear_ls",
            "args": {},
            "state_dict": state,
            "meta": {"wavelengths": [1.0], "note": _Payload(marker)},
        },
        evil,
    )
    with pytest.raises(ConfigError, match="refused") as info:
        read_checkpoint(evil)
    assert "\n" not in str(info.value)
    code, _, err = run_cli(capsys, "reconstruct", rgb_png, "--model", evil, "-o", tmp_path / "o.h5", "--quiet")
    assert_one_line(code, err, "refused")
    assert not marker.exists()
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda p: p.pop("name"), "'name'"),
        (lambda p: p.pop("meta"), "'meta'"),
        (lambda p: p.update(state_dict="weights"), "'state_dict' is a str"),
        (lambda p: p.update(args=[1, 2]), "'args' is a list"),
        (lambda p: p.update(state_dict={"weight": 3}), "not a named tensor"),
        (lambda p: p.update(format="other"), "not an hsinr checkpoint"),
    ],
)
def test_damaged_checkpoints_are_one_line(tmp_path, tiny_model, rgb_png, capsys, change, words):
    payload = torch.load(tiny_model, weights_only=True)
    change(payload)
    torch.save(payload, tmp_path / "bad.pt")
    code, _, err = run_cli(capsys, "reconstruct", rgb_png, "--model", tmp_path / "bad.pt", "-o", tmp_path / "o.h5")
    assert_one_line(code, err, words)


def test_truncated_checkpoint_is_one_line(tmp_path, tiny_model):
    (tmp_path / "cut.pt").write_bytes(tiny_model.read_bytes()[:100])
    with pytest.raises(ConfigError, match="not a readable checkpoint") as info:
        read_checkpoint(tmp_path / "cut.pt")
    assert "\n" not in str(info.value)


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    import random

    set_rng_state_tensors(rng_state_tensors())  # restoring the current state changes nothing
    random.seed(3), np.random.seed(4), torch.manual_seed(5)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's state
    torch.save(rng_state_tensors(), tmp_path / "rng.pt")
    expected = (random.random(), random.gauss(0, 1), np.random.rand(), np.random.randn(), torch.rand(1).item())
    set_rng_state_tensors(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (random.random(), random.gauss(0, 1), np.random.rand(), np.random.randn(), torch.rand(1).item())
    assert again == expected


def test_resume_from_a_best_pt_copied_to_last_pt_is_one_line(tmp_path, tiny_model):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(tiny_model.read_bytes())  # a best.pt: no training state
    with pytest.raises(ConfigError, match="no training state.*--resume"):
        claim_run_folder(run, dict(DEFAULTS), resume=True)
    assert sorted(p.name for p in run.iterdir()) == ["last.pt"]  # nothing written


def test_numpy_values_in_meta_are_stored_as_plain_data(tmp_path):
    spec = {"name": "linear_ls", "args": {"out_bands": np.int64(31)}}
    save_checkpoint(
        tmp_path / "m.pt",
        make({"name": "linear_ls", "args": {"out_bands": 31}}),
        spec,
        {"wavelengths": default_wavelengths(31), "best": np.float64(1.5), "root": tmp_path},
    )
    payload = read_checkpoint(tmp_path / "m.pt")
    assert payload["meta"]["best"] == 1.5 and payload["meta"]["root"] == str(tmp_path)
    assert payload["meta"]["wavelengths"][0] == 400.0 and payload["args"]["out_bands"] == 31


# ------------------------------------------------------------------------------------------------ atomic outputs


@pytest.mark.parametrize("suffix", [*STREAMED, ".tif", ".npz"])
@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failed_cube_write_keeps_the_file_that_was_there(tmp_path, suffix, failure):
    target = tmp_path / f"keep{suffix}"
    old = np.full((4, 5, 3), 0.25, np.float32)
    write_cube(target, Cube(old, None))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(type(failure)):
        if suffix in STREAMED:
            with open_cube_writer(target, (6, 7, 31)) as writer:
                writer.write(0, 0, np.ones((6, 7, 31), np.float32))
                raise failure
        else:
            import hsinr.io.dispatch as dispatch

            with pytest.MonkeyPatch.context() as patch:

                def broken(*args):
                    raise failure

                spec = dispatch._writing_format(target, streaming=False)
                patch.setattr(
                    dispatch,
                    "_writing_format",
                    lambda *a, **k: type(spec)(**{**spec.__dict__, "writer": broken, "library_errors": ()}),
                )
                write_cube(target, Cube(np.ones((6, 7, 31), np.float32), None))
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before
    np.testing.assert_array_equal(read_cube(target).data, old)


@pytest.mark.parametrize("suffix", STREAMED)
def test_a_streamed_cube_appears_only_when_complete(tmp_path, suffix):
    target = tmp_path / f"c{suffix}"
    data = np.random.default_rng(1).random((6, 7, 31)).astype(np.float32)
    with open_cube_writer(target, data.shape, default_wavelengths(31)) as writer:
        writer.write(0, 0, data[:3])
        assert not target.exists()  # the tiles go to a temporary file beside it
        writer.write(3, 0, data[3:])
    np.testing.assert_allclose(read_cube(target).data, data)
    assert leftovers(tmp_path) == []


def test_an_interrupted_reconstruct_keeps_the_existing_output(tmp_path, tiny_model, rgb_png, capsys, monkeypatch):
    import hsinr.infer

    keep = tmp_path / "keep.h5"
    write_cube(keep, Cube(np.full((2, 2, 31), 0.5, np.float32), default_wavelengths(31)))
    before = keep.read_bytes()

    def interrupted(rgb, model, writer=None, **kwargs):
        writer.write(0, 0, np.zeros((2, 2, 31), np.float32))
        raise KeyboardInterrupt

    monkeypatch.setattr(hsinr.infer, "reconstruct", interrupted)
    code, _, err = run_cli(
        capsys, "reconstruct", rgb_png, "--model", tiny_model, "-o", keep, "--quiet", "--keep-exposure"
    )
    assert code == 130, err
    assert keep.read_bytes() == before and leftovers(tmp_path) == []


def test_atomic_path_turns_a_full_disk_into_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    import hsinr.io.atomic as atomic

    target = tmp_path / "table.md"
    target.write_text("old")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(DataError, match="disk full") as info:
        with atomic_path(target) as temporary:
            temporary.write_text("new")
    assert "\n" not in str(info.value)
    assert target.read_text() == "old" and leftovers(tmp_path) == []


@contextlib.contextmanager
def mounted_tmpfs(folder, options: str, why_skipped: str):
    """``folder`` with a tmpfs mounted on it (``mount -o OPTIONS``); skips the test where mounting is not allowed."""
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(why_skipped)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@contextlib.contextmanager
def tiny_disk(tmp_path, size="1m"):
    """A 1 MiB tmpfs (needs root and mount permission; the test is skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    with mounted_tmpfs(mount, f"size={size}", "cannot mount a tmpfs here (needs root)"):
        yield mount


@pytest.mark.parametrize("suffix", [*STREAMED, ".tif", ".npz"])
def test_a_full_disk_is_one_line_and_keeps_the_old_cube(tmp_path, suffix):
    with tiny_disk(tmp_path) as disk:
        target = disk / f"c{suffix}"
        write_cube(target, Cube(np.full((2, 2, 3), 0.5, np.float32), None))
        before = {p.name: p.read_bytes() for p in disk.iterdir()}
        big = np.random.default_rng(0).random((128, 128, 31)).astype(np.float32)  # 2 MiB > 1 MiB
        with pytest.raises(DataError) as info:
            write_cube(target, Cube(big, None))
        assert "\n" not in str(info.value) and ("disk full" in str(info.value) or "free" in str(info.value))
        assert {p.name: p.read_bytes() for p in disk.iterdir()} == before


def test_a_full_disk_during_render_leaves_no_empty_png(tmp_path):
    with tiny_disk(tmp_path) as disk:
        (disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 8192))
        noise = np.random.default_rng(0).random((256, 256, 3)).astype(np.float32)  # ~190 KB as PNG
        with pytest.raises(DataError, match="disk full"):
            write_rgb(disk / "rgb.png", noise)
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_preview_with_the_cube_name_is_refused(tmp_path, tiny_model, rgb_png, capsys):
    for out, preview in (("c.tif", "c.tif"), ("c.hdr", "c.img"), ("c.npy", "c.npy")):
        code, _, err = run_cli(
            capsys, "reconstruct", rgb_png, "--model", tiny_model, "-o", tmp_path / out, "--preview", tmp_path / preview
        )
        assert_one_line(code, err, "--preview")
    assert not (tmp_path / "c.tif").exists()


@pytest.mark.parametrize(
    "option, words",
    [
        (["--tile", "0"], "--tile 0"),
        (["--tile", "-5"], "--tile -5"),
        (["--device", "banana"], "not a device"),
        pytest.param(
            ["--device", "cuda"],
            "no CUDA GPU",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
    ],
)
def test_bad_reconstruct_options_are_one_line(tmp_path, tiny_model, rgb_png, capsys, option, words):
    keep = tmp_path / "keep.h5"
    keep.write_bytes(b"precious")
    code, _, err = run_cli(capsys, "reconstruct", rgb_png, "--model", tiny_model, "-o", keep, *option)
    assert_one_line(code, err, words)
    assert keep.read_bytes() == b"precious"


# ------------------------------------------------------------------------------------------------ run folders


def small_config(**train):
    config = load_config(None)
    config["train"].update(train)
    return config


def fake_run(run: Path, config: dict, training: bool = True) -> None:
    spec = {"name": "linear_ls", "args": {}}
    state = (
        {"optimizer": {}, "scheduler": {}, "rng": rng_state_tensors(), "epoch": 0, "step": 1, "best_score": 1.0}
        if training
        else None
    )
    save_checkpoint(run / "last.pt", make(spec), spec, {"config": config}, state)
    (run / "history.jsonl").write_text(json.dumps({"epoch": 1}) + "\n")


def test_a_folder_holding_a_run_is_refused_without_resume_or_overwrite(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    fake_run(run, small_config())
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    config = tmp_path / "c.yaml"
    config.write_text("train: {epochs: 1}\n")
    code, _, err = run_cli(capsys, "train", config, "-o", run, "--quiet")
    assert_one_line(code, err, "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_overwrite_replaces_the_run_but_keeps_the_split(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    fake_run(run, small_config())
    (run / "split.json").write_text("{}")
    (run / ".last.pt.abcd1234.tmp").write_bytes(b"half")  # a save killed earlier
    with claim_run_folder(run, small_config(), overwrite=True):
        assert sorted(p.name for p in run.iterdir()) == [".hsinr.lock", "split.json"]


def test_a_second_writer_is_locked_out_until_the_first_ends(tmp_path):
    run = tmp_path / "run"
    first = claim_run_folder(run, small_config())
    with pytest.raises(ConfigError, match="another training"):
        claim_run_folder(run, small_config())
    first.release()
    claim_run_folder(run, small_config()).release()


def test_resume_with_changed_settings_is_refused_before_anything_is_written(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    fake_run(run, small_config())
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    changed = small_config()
    changed["seed"] = 7
    changed["data"]["patch_size"] = 32
    with pytest.raises(ConfigError, match="data.patch_size: 64 → 32; seed: 0 → 7"):
        claim_run_folder(run, changed, resume=True)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    claim_run_folder(run, small_config(epochs=5, max_minutes=2.0), resume=True).release()  # budgets may change


@pytest.mark.parametrize(
    "flags, words",
    [
        ({"resume": True, "overwrite": True}, "exclude each other"),
        ({"resume": True}, "nothing to resume"),
    ],
)
def test_inconsistent_run_folder_requests(tmp_path, flags, words):
    with pytest.raises(ConfigError, match=words):
        claim_run_folder(tmp_path / "empty", small_config(), **flags)
    assert not (tmp_path / "empty").exists()


def test_a_file_as_run_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    config = tmp_path / "c.yaml"
    config.write_text("train: {epochs: 1}\n")
    code, _, err = run_cli(capsys, "train", config, "-o", tmp_path / "file", "--quiet")
    assert_one_line(code, err, "is a file")


# ------------------------------------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "text, overrides, words",
    [
        ("modle: {name: inr_hsisr}\n", [], "modle: unknown key; did you mean 'model'"),
        ("train: {batch_sise: 4}\n", [], "train.batch_sise: unknown key; did you mean 'batch_size'"),
        ("", ["train.epochs=three"], "train.epochs: expected an integer >= 1, got 'three'"),
        ("", ["train.lr=abc"], "train.lr: expected a number > 0"),
        ("", ["train.batch_size=0"], "train.batch_size: expected an integer >= 1, got 0"),
        ("", ["train.val_every=0"], "train.val_every"),
        ("", ["train=5"], "train: expected a mapping"),
        ("", ["=5"], "dotted name"),
        ("", ["train.amp=fp32"], "train.amp: expected one of 'off', 'bf16', 'fp16'"),
        ("", ["train.schedule=linear"], "train.schedule"),
        ("", ["train.max_minutes=0"], "train.max_minutes: expected a number > 0 or null"),
        ("", ["train.compile=maybe"], "train.compile: expected true or false"),
        ("data: {augment: {relight: -1}}\n", [], "data.augment.relight: expected a number >= 0"),
        ("data: {augment: {exposure: [2, 1]}}\n", [], "data.augment.exposure"),
        ("data: {augment: {mix: 2}}\n", [], "data.augment.mix: expected a number >= 0 and <= 1"),
        ("data: {scenes: balloons}\n", [], "data.scenes: expected a list"),
        ("methods: 5\n", [], "methods: expected a list of methods"),
        ("methods: [{label: a}]\n", [], "methods[0]: a method needs model"),
        ("train: [1, 2]\n", [], "train: expected a mapping"),
    ],
)
def test_configuration_mistakes_name_the_key(tmp_path, text, overrides, words):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_new_training_keys_are_accepted(tmp_path):
    config = load_config(
        None,
        [
            "train.steps=100",
            "train.schedule=cosine",
            "train.warmup_steps=10",
            "train.weight_decay=1e-4",
            "train.loss=l1+sam",
            "train.amp=bf16",
            "train.compile=true",
            "train.early_stop=3",
            "data.prior={degree: 2}",
            "data.exclude=[a, b]",
            "data.augment={dihedral: true, relight: 0.5, exposure: [0.5, 2]}",
        ],
    )
    assert config["train"]["steps"] == 100 and config["data"]["augment"]["exposure"] == [0.5, 2]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path):
    load_config(path)


# ------------------------------------------------------------------------------------------------ declared sizes


def huge_h5(path: Path, matlab: bool = False) -> None:
    options = {"userblock_size": USERBLOCK_BYTES} if matlab else {}
    with h5py.File(path, "w", **options) as handle:
        handle.create_dataset("cube", shape=(31, 100_000, 100_000), dtype=np.float32, chunks=(31, 8, 8))
    if matlab:
        _write_matlab_header(path)


def huge_npz(path: Path) -> None:
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000, 31)}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cube.npy", header.getvalue())


def envi_pair(path: Path, lines: int, data_lines: int) -> None:
    path.with_suffix(".hdr").write_text(
        f"ENVI\nsamples = 4\nlines = {lines}\nbands = 3\nheader offset = 0\nfile type = ENVI Standard\n"
        "data type = 4\ninterleave = bip\nbyte order = 0\n"
    )
    np.zeros((data_lines, 4, 3), np.float32).tofile(path.with_suffix(".img"))


def png_bomb(path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "name, make_file, words",
    [
        ("huge.h5", huge_h5, "declares shape"),
        ("huge.mat", lambda p: huge_h5(p, matlab=True), "declares shape"),
        ("huge.npz", huge_npz, "declares shape"),
        ("huge.hdr", lambda p: envi_pair(p, 10_000_000, 2), "declares shape"),
        ("fewer.hdr", lambda p: envi_pair(p, 2, 5), "does not describe this data file"),
        ("shorter.hdr", lambda p: envi_pair(p, 5, 2), "does not describe this data file"),
        ("empty.npy", lambda p: np.save(p, np.zeros((0, 5, 31), np.float32)), "every size >= 1"),
        (
            "cut.mat",
            lambda p: scipy.io.savemat(p, {"cube": np.ones((8, 8, 31))}) or p.write_bytes(p.read_bytes()[:100]),
            "cannot read",
        ),
    ],
)
def test_bad_cube_files_are_one_line(tmp_path, capsys, name, make_file, words):
    path = tmp_path / name
    make_file(path)
    code, _, err = run_cli(capsys, "info", path)
    assert_one_line(code, err, words)


def test_a_bit_flipped_compressed_mat_is_one_line(tmp_path):
    path = tmp_path / "flip.mat"
    scipy.io.savemat(path, {"cube": np.random.default_rng(0).random((8, 8, 31))}, do_compression=True)
    raw = bytearray(path.read_bytes())
    for offset in range(200, 260):
        raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        read_cube(path)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------------ inputs


def test_a_png_bomb_is_refused_by_its_declared_size(tmp_path):
    png_bomb(tmp_path / "bomb.png")
    with pytest.raises(DataError, match="declares shape"):
        read_rgb(tmp_path / "bomb.png")


def test_a_nan_in_a_float_tiff_is_refused(tmp_path):
    rgb = np.full((8, 8, 3), 0.5, np.float32)
    rgb[3, 4, 1] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", rgb, photometric="rgb")
    with pytest.raises(DataError, match="1 RGB values are NaN or Inf"):
        read_rgb(tmp_path / "nan.tif")


@pytest.mark.parametrize("name", ["cmyk.jpg", "cmyk.tif"])
def test_cmyk_images_are_refused(tmp_path, name):
    from PIL import Image

    path = tmp_path / name
    if name.endswith(".jpg"):
        Image.new("CMYK", (8, 8), (10, 20, 30, 0)).save(path)
    else:
        tifffile.imwrite(path, np.zeros((8, 8, 4), np.uint8), photometric="separated")
    with pytest.raises(DataError, match="CMYK"):
        read_rgb(path)


def test_render_refuses_a_one_band_cube(tmp_path, capsys):
    np.save(tmp_path / "grey.npy", np.full((4, 4, 1), 0.5, np.float32))
    code, _, err = run_cli(capsys, "render", tmp_path / "grey.npy", "-o", tmp_path / "rgb.png")
    assert_one_line(code, err, "1 band")
    assert not (tmp_path / "rgb.png").exists()


def test_negative_input_gives_a_readable_warning():
    from hsinr.input_check import input_warnings

    stats = {"chromaticity_min": [0.3, 0.3, 0.3], "chromaticity_max": [0.36, 0.36, 0.36]}
    rgb = np.full((4, 4, 3), -0.1, np.float32)
    (warning,) = input_warnings(rgb, {"rgb_stats": stats, "response": "x"})
    assert "black or negative" in warning and "e+" not in warning


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_keeps_the_last_one(tmp_path):
    from hsinr.checkpoint import atomic_torch_save

    with tiny_disk(tmp_path) as disk:
        atomic_torch_save({"w": torch.zeros(10)}, disk / "last.pt")
        before = (disk / "last.pt").read_bytes()
        with pytest.raises(DataError, match="disk full") as info:
            atomic_torch_save({"w": torch.zeros(1_000_000)}, disk / "last.pt")  # 4 MB > 1 MiB
        assert "\n" not in str(info.value)
        assert (disk / "last.pt").read_bytes() == before and leftovers(disk) == []


# ------------------------------------------------------------------------------------------------ atomic writers


def _table(folder: Path) -> list[Path]:
    from hsinr.report import write_table

    return list(write_table([{"method": "a", "psnr": 30.0}], folder, "t", "T", {"data": "x"}).values())


def _figure(folder: Path) -> list[Path]:
    from hsinr.report import spectra_figure

    cube = np.full((8, 8, 31), 0.5, np.float32)
    return [spectra_figure(folder / "f.png", cube, {"m": cube}, default_wavelengths(31))]


def _split(folder: Path) -> list[Path]:
    from hsinr.data import save_split

    save_split(folder / "split.json", {"train": ["a"], "val": ["b"], "test": ["b"]})
    return [folder / "split.json"]


def _config(folder: Path) -> list[Path]:
    from hsinr.config import save_config

    save_config(load_config(None), folder / "config.yaml")
    return [folder / "config.yaml"]


def _synthesis(folder: Path) -> list[Path]:
    from hsinr.infer.synthesize import Synthesis, write_abundance_tiff, write_synthesis

    result = Synthesis(np.ones((4, 4, 12), np.float32), np.full((4, 4, 2), 0.5, np.float32), np.ones(12, np.float32))
    sidecar = write_synthesis(folder / "c.npz", result, None, ["a", "b"], ["a", "b"], {})
    write_abundance_tiff(folder / "ab.tif", result.abundances, ["a", "b"])
    return [folder / "c.npz", sidecar, folder / "ab.tif"]


def _onnx(folder: Path) -> list[Path]:
    pytest.importorskip("onnx")
    from hsinr.export import export_onnx

    model = make({"name": "mst_plus_plus", "args": {"out_bands": 8, "width": 8, "stages": 1}})
    export_onnx(model, folder / "m.onnx", check=False)
    return [folder / "m.onnx"]


def _registry(folder: Path) -> list[Path]:
    from hsinr.pretrained.registry import write_registry

    return [write_registry({"models": {}}, folder)]


@pytest.mark.parametrize(
    "writer", [_table, _figure, _split, _config, _synthesis, _onnx, _registry], ids=lambda f: f.__name__[1:]
)
def test_tables_figures_json_and_onnx_are_written_atomically(tmp_path, monkeypatch, writer):
    import hsinr.io.atomic as atomic

    targets = writer(tmp_path)  # a first, complete write
    fresh = {path: path.read_bytes() for path in targets}
    for path in targets:
        path.write_bytes(b"old")

    def killed(*args):
        raise KeyboardInterrupt  # the moment between writing the temporary file and renaming it

    with monkeypatch.context() as patch:
        patch.setattr(atomic, "commit", killed)
        with pytest.raises(KeyboardInterrupt):
            writer(tmp_path)
    assert all(path.read_bytes() == b"old" for path in targets) and leftovers(tmp_path) == []
    writer(tmp_path)
    assert {path: path.read_bytes() for path in targets}.keys() == fresh.keys()
    assert all(path.read_bytes() != b"old" for path in targets) and leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------------ output folders


@pytest.fixture
def read_only(tmp_path):
    """A folder nothing may be written in: mode 555 for a user, a read-only tmpfs for root (whom modes don't stop)."""
    import os

    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with mounted_tmpfs(folder, "ro,size=1m", "cannot mount a read-only tmpfs here (root ignores file modes)"):
        yield folder


def narrow_inss(path: Path) -> Path:
    """An INSS checkpoint with 8-channel U-Net levels (one channel per normalisation group) and 12 bands."""
    library = (0.1 + 0.8 * np.random.default_rng(0).random((5, 12))).astype(np.float32).tolist()
    spec = {"name": "inss", "args": {"library": library, "order": 2, "cell": 4, "widths": [8, 8, 8, 8]}}
    save_checkpoint(path, make(spec), spec, {"wavelengths": np.linspace(400, 1000, 12).tolist()})
    return path


@pytest.fixture
def inputs(tmp_path, tiny_model, rgb_png):
    """The files the commands below read: a checkpoint, an RGB, an INSS checkpoint, a cube, a benchmark config."""
    np.save(tmp_path / "cube.npy", np.full((4, 4, 31), 0.5, np.float32))
    (tmp_path / "bench.yaml").write_text("methods: [{model: {name: linear_ls}}]\n")
    return {
        "model": tiny_model,
        "rgb": rgb_png,
        "inss": narrow_inss(tmp_path / "inss.pt"),
        "cube": tmp_path / "cube.npy",
        "bench": tmp_path / "bench.yaml",
    }


FOLDER_OUTPUTS = {
    "evaluate": lambda i, out: ["evaluate", i["model"], "--data", "folder", i["cube"].parent, "-o", out],
    "benchmark": lambda i, out: ["benchmark", i["bench"], "-o", out, "--quiet"],
    "synth": lambda i, out: ["synth", "-n", "1", "--size", "8", "-o", out],
    "synthesize --figures": lambda i, out: [
        "synthesize",
        i["rgb"],
        "--model",
        i["inss"],
        "-o",
        "c.h5",
        "--figures",
        out,
    ],
    "demo": lambda i, out: ["demo", "--quick", "--quiet", "-o", out],
}
FILE_OUTPUTS = {
    "export": lambda i, out: ["export", i["model"], "-o", out / "m.onnx", "--no-check"],
    "render": lambda i, out: ["render", i["cube"], "-o", out / "rgb.png"],
    "reconstruct": lambda i, out: ["reconstruct", i["rgb"], "--model", i["model"], "-o", out / "c.h5", "--quiet"],
    "synthesize": lambda i, out: ["synthesize", i["rgb"], "--model", i["inss"], "-o", out / "c.h5"],
}


@pytest.mark.parametrize("command", FOLDER_OUTPUTS)
def test_an_output_folder_that_is_a_file_is_one_line(tmp_path, inputs, capsys, command):
    taken = tmp_path / "taken"
    taken.write_bytes(b"precious")
    code, _, err = run_cli(capsys, *FOLDER_OUTPUTS[command](inputs, taken))
    assert_one_line(code, err, "taken: is a file, not a folder")
    assert taken.read_bytes() == b"precious"


@pytest.mark.parametrize("below", [False, True], ids=["folder", "subfolder"])
@pytest.mark.parametrize("command", FOLDER_OUTPUTS)
def test_a_read_only_output_folder_is_one_line(read_only, inputs, capsys, command, below):
    out = read_only / "new" if below else read_only
    code, _, err = run_cli(capsys, *FOLDER_OUTPUTS[command](inputs, out))
    assert_one_line(code, err, "cannot create the output folder" if below else "cannot write in this output folder")
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("command", FILE_OUTPUTS)
def test_a_file_in_a_read_only_folder_is_one_line(read_only, inputs, capsys, command):
    code, _, err = run_cli(capsys, *FILE_OUTPUTS[command](inputs, read_only))
    assert_one_line(code, err, "cannot write in")
    assert list(read_only.iterdir()) == []


CUBE_OUTPUTS = {
    "reconstruct": lambda i, out: ["reconstruct", i["rgb"], "--model", i["model"], "-o", out, "--quiet"],
    "synthesize": lambda i, out: ["synthesize", i["rgb"], "--model", i["inss"], "-o", out],
    "degrade": lambda i, out: (
        ["degrade", i["cube"], "--scale", "2", "--response", "band_average", "--lr", out]
        + ["--msi", out.with_name("msi.npy")]
    ),
}


@pytest.mark.parametrize("command", CUBE_OUTPUTS)
def test_a_cube_extension_no_writer_knows_is_refused_before_the_work(tmp_path, inputs, capsys, command, monkeypatch):
    """One line naming the file and the formats, exit 2, before any model is loaded or cube degraded; nothing is
    written."""
    import hsinr.checkpoint
    import hsinr.pretrained
    import hsinr.spectral.degradation

    def never(*args, **kwargs):
        raise AssertionError("the work started before the output was checked")

    for module, name in ((hsinr.pretrained, "load_model"), (hsinr.checkpoint, "load_checkpoint")):
        monkeypatch.setattr(module, name, never)
    monkeypatch.setattr(hsinr.spectral.degradation, "degrade_cube", never)
    before = set(tmp_path.iterdir())
    code, _, err = run_cli(capsys, *CUBE_OUTPUTS[command](inputs, tmp_path / "out.xyz"))
    assert_one_line(code, err, "out.xyz: cannot write a cube file with extension '.xyz'; supported:")
    assert set(tmp_path.iterdir()) == before


# ------------------------------------------------------------------------------------------------ --allow-changed


def test_resume_with_allow_changed_warns_naming_the_keys(tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    fake_run(run, small_config())
    changed = small_config()
    changed["seed"] = 7
    with caplog.at_level("WARNING", logger="hsinr"):
        claim_run_folder(run, changed, resume=True, allow_changed=True).release()
    assert "seed: 0 → 7" in caplog.text and "no longer continues exactly" in caplog.text


@pytest.mark.parametrize("allow", [False, True], ids=["refused", "allowed"])
def test_train_allow_changed_turns_the_refusal_into_a_warning(tmp_path, capsys, monkeypatch, allow):
    import hsinr.train

    run = tmp_path / "run"
    run.mkdir()
    fake_run(run, small_config())
    monkeypatch.setattr(hsinr.train, "_train", lambda *args: {"resumed": True})  # the claim is what is tested
    config = tmp_path / "c.yaml"
    config.write_text("seed: 7\n")
    code, out, err = run_cli(capsys, "train", config, "-o", run, "--resume", *(["--allow-changed"] * allow))
    if allow:
        assert code == 0 and '"resumed": true' in out and "seed: 0 → 7" in err and "warning" not in out
    else:
        assert_one_line(code, err, "seed: 0 → 7", "--allow-changed")


def test_allow_changed_without_resume_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("train: {epochs: 1}\n")
    code, _, err = run_cli(capsys, "train", config, "-o", tmp_path / "run", "--allow-changed")
    assert_one_line(code, err, "--allow-changed applies to --resume only")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------------ library warnings


def damaged_tiff(path: Path) -> Path:
    """A TIFF whose first three tags are garbage: tifffile logs an error for each, then fails."""
    tifffile.imwrite(path, np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    raw = bytearray(path.read_bytes())
    ifd = int.from_bytes(raw[4:8], "little")
    for offset in range(ifd + 2, ifd + 2 + 3 * 12):
        raw[offset] ^= 0x55
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("command", ["info", "render"])
def test_library_warnings_do_not_come_before_the_error_line(tmp_path, command):
    import sys

    bad = damaged_tiff(tmp_path / "bad.tif")
    args = [str(bad)] + (["-o", str(tmp_path / "rgb.png")] if command == "render" else [])
    done = subprocess.run(
        [sys.executable, "-m", "hsinr.cli", command, *args], capture_output=True, text=True, timeout=120
    )
    assert_one_line(done.returncode, done.stderr, "bad.tif: cannot read as TIFF")


@pytest.mark.parametrize("fails", [False, True], ids=["success", "user-error"])
@pytest.mark.parametrize("how", ["warnings", "logging"])
def test_warnings_show_on_success_and_are_dropped_before_a_user_error(tmp_path, capsys, monkeypatch, fails, how):
    import logging
    import warnings

    import hsinr.commands.info

    np.save(tmp_path / "c.npy", np.ones((2, 2, 3), np.float32))

    def noisy_read(path, key=None):
        if how == "warnings":
            warnings.warn("a library grumbles", UserWarning, stacklevel=1)
        else:
            logging.getLogger("somelib").warning("a library grumbles")
        if fails:
            raise DataError(f"{path}: bad file")
        return read_cube(path)

    monkeypatch.setattr(hsinr.commands.info, "read_cube", noisy_read)
    code, _, err = run_cli(capsys, "info", tmp_path / "c.npy")
    if fails:
        assert_one_line(code, err, "bad file")
    else:
        assert code == 0 and "a library grumbles" in err


# ------------------------------------------------------------------------------------------------ too small images


@pytest.mark.parametrize("size", [(1, 1), (5, 5), (8, 2)])
def test_synthesize_on_a_too_small_image_is_one_line(tmp_path, capsys, size):
    model = narrow_inss(tmp_path / "inss.pt")
    write_rgb(tmp_path / "tiny.png", np.full((*size, 3), 0.5, np.float32))
    code, _, err = run_cli(capsys, "synthesize", tmp_path / "tiny.png", "--model", model, "-o", tmp_path / "c.h5")
    assert_one_line(code, err, "tiny.png", f"{size[0]}x{size[1]} image is too small", "more than 8 pixels")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inss.pt", "tiny.png"]


def test_synthesize_takes_an_image_just_above_the_minimum(tmp_path, capsys):
    model = narrow_inss(tmp_path / "inss.pt")
    write_rgb(tmp_path / "thin.png", np.full((1, 9, 3), 0.5, np.float32))
    code, _, err = run_cli(capsys, "synthesize", tmp_path / "thin.png", "--model", model, "-o", tmp_path / "c.h5")
    assert code == 0, err
    assert read_cube(tmp_path / "c.h5").shape == (1, 9, 12)


@pytest.mark.parametrize(
    "spec, size",
    [
        ({"name": "mst_plus_plus", "args": {"out_bands": 31, "width": 31, "stages": 1}}, (1, 1)),
        ({"name": "inr_hsisr", "args": {"hyper_width": 16, "stem_width": 8, "mlp_width": 16, "cell_size": 8}}, (2, 3)),
    ],
)
def test_reconstruct_takes_images_of_one_pixel(tmp_path, capsys, spec, size):
    save_checkpoint(tmp_path / "m.pt", make(spec), spec, {"wavelengths": default_wavelengths(31).tolist()})
    write_rgb(tmp_path / "tiny.png", np.full((*size, 3), 0.5, np.float32))
    code, _, err = run_cli(capsys, "reconstruct", tmp_path / "tiny.png", "--model", tmp_path / "m.pt", "-o",
                           tmp_path / "c.npy", "--quiet", "--keep-exposure")  # fmt: skip
    assert code == 0, err
    assert read_cube(tmp_path / "c.npy").shape == (*size, 31)


def test_fuse_takes_a_one_pixel_low_resolution_image(tmp_path, capsys):
    spec = {"name": "inf3", "args": {"scale": 4, "hsi_bands": 31}}
    save_checkpoint(tmp_path / "f.pt", make(spec), spec, {"wavelengths": default_wavelengths(31).tolist()})
    np.save(tmp_path / "lr.npy", np.full((1, 1, 31), 0.5, np.float32))
    write_rgb(tmp_path / "hr.png", np.full((4, 4, 3), 0.5, np.float32), bits=16)
    code, _, err = run_cli(capsys, "fuse", "--hsi", tmp_path / "lr.npy", "--msi", tmp_path / "hr.png", "--model",
                           tmp_path / "f.pt", "-o", tmp_path / "c.npy")  # fmt: skip
    assert code == 0, err
    assert read_cube(tmp_path / "c.npy").shape == (4, 4, 31)


# ------------------------------------------------------------------------------------------------ SIGTERM


def _terminated(*args, **kwargs):
    """Stands in for a writer: leaves half a file at the path it was given, then the process gets SIGTERM."""
    import os
    import signal
    import time

    for value in (*args, *kwargs.values()):
        if isinstance(value, (str, Path)) and is_temporary(value):
            Path(value).write_bytes(b"half")
        elif hasattr(value, "write") and not isinstance(value, (str, Path, np.ndarray)):
            value.write(0, 0, np.zeros((2, 2, 31), np.float32))  # a tile into the cube writer
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)  # the handler raises here
    raise AssertionError("SIGTERM did not stop the command")


@pytest.mark.parametrize("command", ["reconstruct", "render", "export"])
def test_sigterm_during_a_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path, tiny_model, rgb_png, capsys, monkeypatch, command
):
    import signal

    import hsinr.infer
    import hsinr.io.rgb

    np.save(tmp_path / "cube.npy", np.full((4, 4, 31), 0.5, np.float32))
    keep = tmp_path / {"reconstruct": "keep.h5", "render": "keep.png", "export": "keep.onnx"}[command]
    keep.write_bytes(b"the previous result")
    if command == "reconstruct":
        monkeypatch.setattr(hsinr.infer, "reconstruct", lambda rgb, model, writer=None, **k: _terminated(writer=writer))
        argv = ["reconstruct", rgb_png, "--model", tiny_model, "-o", keep, "--quiet", "--keep-exposure", "--input"]
        argv.append("linear")
    elif command == "render":
        monkeypatch.setattr(hsinr.io.rgb.iio, "imwrite", _terminated)
        argv = ["render", tmp_path / "cube.npy", "-o", keep]
    else:
        monkeypatch.setattr(torch.onnx, "export", lambda model, inputs, f, **k: _terminated(f))
        argv = ["export", tiny_model, "-o", keep, "--no-check"]

    def unhandled(signum, frame):  # what the test sees, instead of dying, if the command installs no handler
        raise AssertionError("hsinr did not handle SIGTERM")

    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        code, _, err = run_cli(capsys, *argv)
        assert signal.getsignal(signal.SIGTERM) is unhandled  # restored after the command
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 143 and err.strip() == f"hsinr {command}: terminated (SIGTERM)", err
    assert keep.read_bytes() == b"the previous result" and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "command",
    [
        lambda i: ["evaluate", i["model"], "--data", "folder", i["cube"].parent],
        lambda i: ["benchmark", i["bench"]],
        lambda i: ["fuse", "--hsi", i["cube"], "--msi", i["rgb"], "--model", i["model"], "-o", "c.npy"],
        lambda i: ["synthesize", i["rgb"], "--model", i["inss"], "-o", "c.h5"],
    ],
    ids=["evaluate", "benchmark", "fuse", "synthesize"],
)
def test_an_unknown_device_is_one_line_before_anything_runs(tmp_path, inputs, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run_cli(capsys, *command(inputs), "--device", "banana")
    assert_one_line(code, err, "--device 'banana': not a device")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_train_on_cuda_without_a_gpu_is_one_line_before_anything_is_written(tmp_path, capsys, monkeypatch):
    import torch

    from hsinr.config import save_config

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    save_config(small_config(device="cuda"), tmp_path / "c.yaml")
    code, _, err = run_cli(capsys, "train", tmp_path / "c.yaml", "-o", tmp_path / "run", "--quiet")
    assert_one_line(code, err, "train.device 'cuda': no CUDA GPU is available")
    assert not (tmp_path / "run").exists()
