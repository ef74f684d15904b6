"""RGB encodings (sRGB transfer function), ``--input auto`` choices per file type, ``render --encoding``, exposure."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import tifffile
import torch

from hsinr.checkpoint import save_checkpoint
from hsinr.cli import main
from hsinr.cube import default_wavelengths
from hsinr.errors import DataError
from hsinr.infer import reconstruct
from hsinr.io import read_cube, read_rgb, write_rgb
from hsinr.models import make
from hsinr.spectral.encoding import (
    ExposureReference,
    choose_input_encoding,
    decode_rgb,
    encode_rgb,
    exposure_factor,
    image_level,
    reconstruct_at_exposure,
    reference_level,
    srgb_decode,
    srgb_encode,
    stored_sample_type,
)


def test_srgb_transfer_function_against_hand_computed_values():
    # 1.055 * 0.5 ** (1 / 2.4) - 0.055 = 0.7353569830524495; 12.92 * 0.002 = 0.02584 (linear segment)
    encoded = srgb_encode(np.array([0.0, 0.002, 0.5, 1.0]))
    np.testing.assert_allclose(encoded, [0.0, 0.02584, 0.7353569830524495, 1.0], rtol=1e-6, atol=1e-9)
    assert encoded.dtype == np.float32
    # decoding: 0.04045 / 12.92 below the knee, ((0.5 + 0.055) / 1.055) ** 2.4 above
    decoded = srgb_decode(np.array([0.04045, 0.5, 0.7353569830524495]))
    np.testing.assert_allclose(decoded, [0.04045 / 12.92, ((0.5 + 0.055) / 1.055) ** 2.4, 0.5], rtol=1e-6)
    assert math.isclose(((0.5 + 0.055) / 1.055) ** 2.4, 0.21404114048223255)


def test_srgb_round_trip_and_chunked_rows_keep_shape():
    values = np.random.default_rng(0).random((600, 7, 3)).astype(np.float32)  # > one chunk of 256 rows
    np.testing.assert_allclose(srgb_decode(srgb_encode(values)), values, atol=2e-7)
    assert srgb_encode(values).shape == values.shape
    assert np.all(np.diff(srgb_encode(np.linspace(0, 1, 101))) > 0)  # monotonic


def test_encode_rgb_clips_before_the_curve_and_decode_inverts_it():
    linear = np.array([[[-0.2, 0.5, 1.7]]], np.float32)
    np.testing.assert_allclose(encode_rgb(linear, "srgb"), [[[0.0, 0.7353569830524495, 1.0]]], rtol=1e-6)
    np.testing.assert_allclose(encode_rgb(linear, "linear"), [[[0.0, 0.5, 1.0]]])
    np.testing.assert_allclose(decode_rgb(encode_rgb(linear, "srgb"), "srgb"), [[[0.0, 0.5, 1.0]]], rtol=1e-6)
    with pytest.raises(DataError, match="unknown RGB encoding 'gamma'"):
        encode_rgb(linear, "gamma")


@pytest.mark.parametrize(
    ("name", "writer", "sample", "encoding"),
    [
        ("a.png", lambda p, x: write_rgb(p, x, bits=8), "uint8", "srgb"),
        ("a.jpg", lambda p, x: write_rgb(p, x), "uint8", "srgb"),
        ("a.bmp", lambda p, x: write_rgb(p, x), "uint8", "srgb"),
        ("a.png", lambda p, x: write_rgb(p, x, bits=16), "uint16", "linear"),
        ("a.tif", lambda p, x: write_rgb(p, x, bits=16), "uint16", "linear"),
        ("a.tif", lambda p, x: write_rgb(p, x, bits=8), "uint8", "srgb"),
        ("a.tif", lambda p, x: tifffile.imwrite(p, x, photometric="rgb"), "float", "linear"),
    ],
)
def test_auto_input_choice_per_file_type(tmp_path, name, writer, sample, encoding):
    path = tmp_path / name
    writer(path, np.random.default_rng(0).random((5, 6, 3)).astype(np.float32))
    assert stored_sample_type(path) == sample
    chosen, note = choose_input_encoding(path, "auto")
    assert chosen == encoding
    assert ("decoding them as sRGB" if encoding == "srgb" else "reading them as linear RGB") in note
    assert choose_input_encoding(path, "linear") == ("linear", None)
    assert choose_input_encoding(path, "srgb") == ("srgb", None)


def test_auto_input_errors(tmp_path):
    with pytest.raises(DataError, match="no such image file"):
        choose_input_encoding(tmp_path / "missing.png")
    write_rgb(tmp_path / "a.png", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(DataError, match="--input 'gamma'"):
        choose_input_encoding(tmp_path / "a.png", "gamma")


def test_render_encoding_writes_srgb_for_8_bit_and_reconstruct_auto_reads_it_back(tmp_path, capsys):
    path = tmp_path / "flat.npz"
    np.savez(path, cube=np.full((4, 5, 31), 0.5, np.float32), wavelengths=default_wavelengths(31))
    code = main(["render", str(path), "-o", str(tmp_path / "s.png"), "--response", "srgb"])  # 8-bit: sRGB
    assert code == 0 and "srgb 8-bit" in capsys.readouterr().out
    np.testing.assert_array_equal(read_rgb(tmp_path / "s.png"), np.float32(188) / 255)  # round(0.73536 * 255)
    code = main(["render", str(path), "-o", str(tmp_path / "l.png"), "--response", "srgb", "--encoding", "linear"])
    assert code == 0
    np.testing.assert_array_equal(read_rgb(tmp_path / "l.png"), np.float32(128) / 255)  # round(0.5 * 255)
    code = main(["render", str(path), "-o", str(tmp_path / "l16.png"), "--response", "srgb", "--bits", "16"])
    assert code == 0  # 16-bit: linear by default
    np.testing.assert_allclose(read_rgb(tmp_path / "l16.png"), 0.5, atol=1 / 65535)

    # the identity of RGB -> RGB through a checkpoint: reconstruct --input auto recovers the linear 0.5
    spec = {"name": "linear_ls", "args": {"out_bands": 3}}
    model = make(spec).fit(np.eye(3), np.eye(3))
    save_checkpoint(tmp_path / "id.pt", model, spec, {"wavelengths": [450.0, 550.0, 650.0], "srf": None})
    code = main(
        [
            "reconstruct",
            str(tmp_path / "s.png"),
            "--model",
            str(tmp_path / "id.pt"),
            "-o",
            str(tmp_path / "c.npy"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0 and "input: s.png stores 8-bit values: decoding them as sRGB" in err
    np.testing.assert_allclose(read_cube(tmp_path / "c.npy").data, srgb_decode(np.float32(188) / 255), rtol=1e-5)
    assert abs(float(srgb_decode(np.float32(188) / 255)) - 0.5) < 0.003  # 8-bit quantisation only
    code = main(
        [
            "reconstruct",
            str(tmp_path / "s.png"),
            "--model",
            str(tmp_path / "id.pt"),
            "-o",
            str(tmp_path / "c2.npy"),
            "--input",
            "linear",
            "--quiet",
        ]
    )
    assert code == 0 and capsys.readouterr().err == ""
    np.testing.assert_allclose(read_cube(tmp_path / "c2.npy").data, np.float32(188) / 255, rtol=1e-5)


def not_exposure_invariant_model():
    """``y = (r, g, b, 1) W``: the bias makes ``f(2x) ≠ 2 f(x)``."""
    spec = {"name": "linear_ls", "args": {"out_bands": 5, "bias": True}}
    rng = np.random.default_rng(0)
    rgb = rng.random((200, 3))
    return make(spec).fit(rgb, rgb @ rng.random((3, 5)) + 0.3), spec


def test_exposure_normalisation_makes_any_model_equivariant():
    model, _ = not_exposure_invariant_model()
    rgb = np.random.default_rng(1).uniform(0.05, 0.4, (9, 11, 3)).astype(np.float32)
    predict = partial(reconstruct, model=model, progress=False)
    raw, raw2 = predict(rgb), predict(2 * rgb)
    assert np.abs(raw2 - 2 * raw).max() > 0.1  # the model alone is not exposure-equivariant
    for statistic in ("white", "mean"):
        reference = ExposureReference(statistic, 0.2)
        one, k1 = reconstruct_at_exposure(rgb, predict, reference)
        two, k2 = reconstruct_at_exposure(2 * rgb, predict, reference)
        np.testing.assert_allclose(two, 2 * one, rtol=1e-5)
        assert k1 == pytest.approx(0.2 / image_level(rgb, statistic)) and k2 == pytest.approx(k1 / 2)
    assert k1 == pytest.approx(0.2 / rgb.mean(dtype=np.float64))
    np.testing.assert_allclose(one, predict(rgb * np.float32(k1)) / k1, rtol=1e-6)  # k·x through the model, / k
    same, k = reconstruct_at_exposure(rgb, predict, None)  # no reference level: the model as it is
    assert k == 1.0 and np.array_equal(same, raw)


def test_exposure_normalisation_streams_scaled_blocks():
    model, _ = not_exposure_invariant_model()
    rgb = np.random.default_rng(2).uniform(0.05, 0.4, (20, 17, 3)).astype(np.float32)
    predict = partial(reconstruct, model=model, tile=8, progress=False)

    class Sink:
        def __init__(self):
            self.array = np.zeros((20, 17, 5), np.float32)

        def write(self, y0, x0, block):
            self.array[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = block

    sink = Sink()
    reference = ExposureReference("white", 0.3)
    assert reconstruct_at_exposure(rgb, predict, reference, writer=sink)[0] is None
    np.testing.assert_allclose(sink.array, reconstruct_at_exposure(rgb, predict, reference)[0], rtol=1e-6)


def test_exposure_factor_refuses_a_black_image():
    with pytest.raises(DataError, match="the image is black"):
        exposure_factor(np.zeros((3, 3, 3), np.float32), ExposureReference("white", 0.2))
    with pytest.raises(DataError, match="positive number"):
        exposure_factor(np.ones((3, 3, 3), np.float32), ExposureReference("mean", 0.0))


def test_white_level_is_the_99th_percentile_of_the_largest_channel_and_ignores_dark_content():
    rgb = np.zeros((10, 10, 3), np.float32)
    rgb[..., 2] = np.arange(100, dtype=np.float32).reshape(10, 10) / 100  # the largest channel: 0.00 … 0.99
    assert image_level(rgb, "white") == pytest.approx(np.percentile(np.arange(100) / 100, 99))  # 0.9801
    assert image_level(rgb, "mean") == pytest.approx(0.495 / 3)
    # half the scene turned black (a dark object, not a darker exposure): the mean halves, the white level stays
    darker_scene = rgb.copy()
    darker_scene[:, :5] = 0
    assert image_level(darker_scene, "mean") < 0.6 * image_level(rgb, "mean")
    assert image_level(darker_scene, "white") == pytest.approx(image_level(rgb, "white"), rel=0.01)
    from hsinr.tasks import rgb_statistics  # what training records in a checkpoint's meta

    stats = rgb_statistics([rgb, darker_scene])
    assert stats["white_level"] == pytest.approx((image_level(rgb, "white") + image_level(darker_scene, "white")) / 2)


def test_checkpoints_without_a_white_level_keep_the_mean_level():
    assert reference_level({"rgb_stats": {"mean_level": 0.3, "white_level": 0.8}}) == ExposureReference("white", 0.8)
    assert reference_level({"rgb_stats": {"mean_level": 0.3}}) == ExposureReference("mean", 0.3)
    assert reference_level({}) is None


def test_cli_and_api_apply_the_checkpoint_mean_level(tmp_path, capsys):
    import hsinr

    model, spec = not_exposure_invariant_model()
    save_checkpoint(
        tmp_path / "m.pt",
        model,
        spec,
        {
            "wavelengths": default_wavelengths(5).tolist(),
            "srf": None,
            "rgb_stats": {"mean_level": 0.5, "chromaticity_min": [0, 0, 0], "chromaticity_max": [1, 1, 1]},
        },
    )
    rgb = np.random.default_rng(3).uniform(0.05, 0.45, (10, 12, 3)).astype(np.float32)
    write_rgb(tmp_path / "dim.png", rgb, bits=16)
    write_rgb(tmp_path / "bright.png", 2 * rgb, bits=16)
    cubes = []
    for name in ("dim", "bright"):
        code = main(
            [
                "reconstruct",
                str(tmp_path / f"{name}.png"),
                "--model",
                str(tmp_path / "m.pt"),
                "-o",
                str(tmp_path / f"{name}.npy"),
                "--quiet",
            ]
        )
        assert code == 0, capsys.readouterr().err
        cubes.append(read_cube(tmp_path / f"{name}.npy").data)
    np.testing.assert_allclose(cubes[1], 2 * cubes[0], rtol=2e-4, atol=1e-5)  # 16-bit quantisation of the inputs
    api = hsinr.reconstruct(read_rgb(tmp_path / "dim.png"), str(tmp_path / "m.pt"), progress=False)
    np.testing.assert_allclose(api, cubes[0], rtol=1e-5)
    kept = hsinr.reconstruct(read_rgb(tmp_path / "dim.png"), str(tmp_path / "m.pt"), keep_exposure=True, progress=False)
    with torch.no_grad():
        x = torch.from_numpy(read_rgb(tmp_path / "dim.png").transpose(2, 0, 1))[None]
        direct = model(x)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(kept, direct, rtol=1e-5)
    assert np.abs(kept - api).max() > 0.05  # normalisation changed the answer of this non-invariant model
