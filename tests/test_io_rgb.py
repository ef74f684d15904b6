"""hsinr.io RGB images and the 16-bit PNG codec: value scaling by dtype, R-G-B channel order, errors."""

from __future__ import annotations

import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from PIL import Image

from hsinr.errors import DataError
from hsinr.io import read_rgb, write_rgb
from hsinr.io.png16 import SIGNATURE, decode_png16, encode_png16


def red_distinct_image(dtype=np.uint8) -> np.ndarray:
    """2 × 3 image whose R, G and B channels all differ: R = full scale, G = 0, B = one fifth of full scale."""
    full = np.iinfo(dtype).max
    image = np.zeros((2, 3, 3), dtype)
    image[..., 0] = full
    image[..., 2] = full // 5
    return image


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_8bit_files_scale_by_255_in_rgb_order(tmp_path, suffix):
    iio.imwrite(tmp_path / f"red{suffix}", red_distinct_image())
    rgb = read_rgb(tmp_path / f"red{suffix}")
    assert rgb.dtype == np.float32 and rgb.shape == (2, 3, 3)
    np.testing.assert_allclose(rgb[0, 0], [1.0, 0.0, 51 / 255], rtol=1e-6)


def test_jpeg_channel_order(tmp_path):
    iio.imwrite(tmp_path / "red.jpg", np.tile(red_distinct_image(), (8, 8, 1)), quality=100)
    np.testing.assert_allclose(read_rgb(tmp_path / "red.jpg")[4, 4], [1.0, 0.0, 0.2], atol=0.02)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_files_scale_by_65535(tmp_path, suffix):
    image = red_distinct_image(np.uint16)
    image[1, 2] = [1, 258, 65534]  # values whose low byte matters
    if suffix == ".png":
        encode_png16(tmp_path / "x.png", image)
    else:
        tifffile.imwrite(tmp_path / "x.tif", image, photometric="rgb")
    rgb = read_rgb(tmp_path / f"x{suffix}")
    np.testing.assert_allclose(rgb[0, 0], [1.0, 0.0, 13107 / 65535], rtol=1e-6)
    np.testing.assert_allclose(rgb[1, 2], [1 / 65535, 258 / 65535, 65534 / 65535], rtol=1e-6)


def test_rgba_drops_alpha_and_grey_is_refused(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 1], rgba[..., 3] = 255, 10
    iio.imwrite(tmp_path / "rgba.png", rgba)
    np.testing.assert_array_equal(read_rgb(tmp_path / "rgba.png"), np.tile([0.0, 1.0, 0.0], (2, 2, 1)))
    iio.imwrite(tmp_path / "grey.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match="grey.png: image is greyscale"):
        read_rgb(tmp_path / "grey.png")


def test_read_rgb_errors(tmp_path):
    with pytest.raises(DataError, match="no such image file"):
        read_rgb(tmp_path / "missing.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.png: cannot read image"):
        read_rgb(tmp_path / "broken.png")
    with pytest.raises(DataError, match="unsupported RGB image type '.gif'"):
        read_rgb(tmp_path / "a.gif")


@pytest.mark.parametrize("suffix, bits", [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".bmp", 8)])
def test_write_rgb_round_trip_within_half_a_step(tmp_path, suffix, bits):
    rgb = np.random.default_rng(1).random((5, 7, 3), dtype=np.float32)
    write_rgb(tmp_path / f"out{suffix}", rgb, bits=bits)
    back = read_rgb(tmp_path / f"out{suffix}")
    assert np.abs(back - rgb).max() <= 0.5 / (2**bits - 1) + 1e-7


def test_write_rgb_clips_and_keeps_channel_order(tmp_path):
    write_rgb(tmp_path / "clip.png", np.array([[[1.5, -0.2, 0.2]]]))
    assert iio.imread(tmp_path / "clip.png")[0, 0].tolist() == [255, 0, 51]
    with pytest.raises(DataError, match="stores only 8 bits"):
        write_rgb(tmp_path / "x.jpg", np.zeros((2, 2, 3)), bits=16)
    with pytest.raises(DataError, match=r"\(H, W, 3\)"):
        write_rgb(tmp_path / "x.png", np.zeros((2, 2)))
    with pytest.raises(DataError, match="NaN"):
        write_rgb(tmp_path / "x.png", np.full((2, 2, 3), np.nan))


# ---------------------------------------------------------------- 16-bit PNG codec


def test_png16_agrees_with_pillow_on_the_high_byte_and_keeps_the_low_byte(tmp_path):
    image = np.random.default_rng(2).integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    encode_png16(tmp_path / "c.png", image)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c.png")), image >> 8)  # Pillow drops 8 bits
    np.testing.assert_array_equal(decode_png16(tmp_path / "c.png"), image)


def test_png16_decodes_grey_written_by_pillow(tmp_path):
    grey = (np.arange(40 * 30).reshape(40, 30) * 50).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "g.png")
    np.testing.assert_array_equal(decode_png16(tmp_path / "g.png"), grey)


def paeth(left, up, up_left):
    estimate = left + up - up_left
    to_left, to_up, to_diag = np.abs(estimate - left), np.abs(estimate - up), np.abs(estimate - up_left)
    return np.where((to_left <= to_up) & (to_left <= to_diag), left, np.where(to_up <= to_diag, up, up_left))


def test_png16_undoes_all_five_row_filters(tmp_path):
    """Encode with a different filter on each row (PNG spec, section 9) and check the decoder inverts them."""
    height, width, channels = 12, 9, 4
    image = np.random.default_rng(3).integers(0, 65536, (height, width, channels), dtype=np.uint16)
    raw = image.astype(">u2").view(np.uint8).reshape(height, width, 2 * channels).astype(np.int32)
    padded = np.zeros((height + 1, width + 1, 2 * channels), np.int32)
    padded[1:, 1:] = raw
    left, up, up_left = padded[1:, :-1], padded[:-1, 1:], padded[:-1, :-1]
    predictions = [np.zeros_like(raw), left, up, (left + up) // 2, paeth(left, up, up_left)]
    filters = np.arange(height) % 5
    filtered = np.stack([(raw[y] - predictions[filters[y]][y]) % 256 for y in range(height)]).astype(np.uint8)
    scanlines = np.concatenate([filters[:, None].astype(np.uint8), filtered.reshape(height, -1)], axis=1)

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    (tmp_path / "f.png").write_bytes(
        SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines.tobytes())) + chunk(b"IEND", b"")
    )
    np.testing.assert_array_equal(decode_png16(tmp_path / "f.png"), image)
    np.testing.assert_allclose(read_rgb(tmp_path / "f.png"), image[..., :3] / 65535.0, rtol=1e-6)


def test_png16_detects_corruption(tmp_path):
    encode_png16(tmp_path / "ok.png", np.ones((4, 4, 3), np.uint16))
    content = bytearray((tmp_path / "ok.png").read_bytes())
    content[45] ^= 0xFF  # inside the IDAT payload
    (tmp_path / "bad.png").write_bytes(bytes(content))
    with pytest.raises(DataError, match="bad.png: corrupt PNG"):
        read_rgb(tmp_path / "bad.png")
