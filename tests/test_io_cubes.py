"""hsinr.io cube readers and writers: every format is written here in its exact on-disk layout, then read back."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import scipy.io
import spectral.io.envi as spectral_envi
import tifffile

from hsinr.cube import Cube
from hsinr.errors import DataError
from hsinr.io import open_cube_writer, read_cube, supported_formats, write_cube
from hsinr.io._shared import chunk_side
from hsinr.io.png16 import encode_png16

WAVELENGTHS = np.arange(400.0, 701.0, 10.0)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def random_cube(height=6, width=5, bands=31, seed=0) -> np.ndarray:
    """float32 (H, W, C) in [0, 1); H ≠ W so that a swapped axis cannot go unnoticed."""
    return np.random.default_rng(seed).random((height, width, bands), dtype=np.float32)


def write_matlab_v73(path: Path, variables: dict) -> None:
    """What MATLAB's ``save -v7.3`` produces: HDF5 behind a 512-byte header, every array stored with reversed axes."""
    classes = {"float64": "double", "float32": "single", "uint16": "uint16", "uint8": "uint8"}
    with h5py.File(path, "w", userblock_size=512) as handle:
        for name, value in variables.items():
            array = np.atleast_2d(np.asarray(value))
            dataset = handle.create_dataset(name, data=array.T)
            dataset.attrs["MATLAB_class"] = np.bytes_(classes[array.dtype.name])
    with open(path, "r+b") as handle:
        handle.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .".ljust(116)
            + b"\x00" * 8
            + b"\x00\x02IM"
        )


# ---------------------------------------------------------------- CAVE folders


def write_cave_scene(root: Path, scene: str, bands: np.ndarray, nested: bool = True) -> Path:
    """A CAVE scene as distributed: <scene>_ms/<scene>_ms/<scene>_ms_NN.png (16-bit grey) + <scene>_RGB.bmp."""
    folder = root / f"{scene}_ms" / f"{scene}_ms" if nested else root / f"{scene}_ms"
    folder.mkdir(parents=True)
    for index in range(bands.shape[2]):
        iio.imwrite(folder / f"{scene}_ms_{index + 1:02d}.png", bands[:, :, index])
    iio.imwrite(folder / f"{scene}_RGB.bmp", np.zeros((*bands.shape[:2], 3), np.uint8))
    return folder


@pytest.fixture
def cave_root(tmp_path):
    """Three scenes of 16-bit bands; band k of scene s holds 1000·s + 100·k + row·W + column."""
    height, width = 4, 6
    pixel = np.arange(height * width, dtype=np.uint16).reshape(height, width)
    scenes = {}
    for number, scene in enumerate(["balloons", "beads", "flowers"], start=1):
        bands = np.stack([1000 * number + 100 * band + pixel for band in range(1, 32)], axis=2).astype(np.uint16)
        write_cave_scene(tmp_path, scene, bands)
        scenes[scene] = bands
    return tmp_path, scenes


def test_cave_folder_reads_16bit_bands_at_both_nesting_levels(cave_root):
    root, scenes = cave_root
    inner = read_cube(root / "beads_ms" / "beads_ms")
    outer = read_cube(root / "beads_ms")
    expected = scenes["beads"].astype(np.float32) / 65535
    for cube in (inner, outer):
        assert cube.shape == (4, 6, 31)
        np.testing.assert_array_equal(cube.data, expected)
        np.testing.assert_array_equal(cube.wavelengths, WAVELENGTHS)
        assert cube.scale == 65535
        assert cube.meta["scene"] == "beads"
    # band 01, pixel (1, 2) of scene 2: 2000 + 100 + 1*6 + 2
    assert inner.data[1, 2, 0] == np.float32(2108 / 65535)


def test_cave_folder_without_rgb_bmp(tmp_path):
    bands = np.full((3, 3, 31), 65535, np.uint16)
    folder = write_cave_scene(tmp_path, "toy", bands, nested=False)
    (folder / "toy_RGB.bmp").unlink()
    np.testing.assert_array_equal(read_cube(folder).data, np.ones((3, 3, 31), np.float32))


def test_cave_8bit_and_rgba_bands_are_scaled_by_their_own_depth(tmp_path):
    bands = np.full((2, 3, 31), 65535, np.uint16)
    folder = write_cave_scene(tmp_path, "watercolors", bands)
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 51, 255  # 8-bit RGBA band: first channel 51 → 0.2
    iio.imwrite(folder / "watercolors_ms_05.png", rgba)
    rgba16 = np.zeros((2, 3, 4), np.uint16)
    rgba16[..., 0], rgba16[..., 3] = 13107, 65535  # 16-bit RGBA band (which Pillow alone would cut to 8 bits)
    encode_png16(folder / "watercolors_ms_06.png", rgba16)
    cube = read_cube(folder)
    np.testing.assert_allclose(cube.data[:, :, 4], 0.2, rtol=1e-6)
    np.testing.assert_allclose(cube.data[:, :, 5], 0.2, rtol=1e-6)
    np.testing.assert_array_equal(cube.data[:, :, 6], 1.0)
    assert cube.meta["band_scales"][4] == 255 and cube.scale == 65535


def test_cave_errors_name_the_problem(cave_root, tmp_path):
    root, _ = cave_root
    with pytest.raises(DataError, match="holds 3 CAVE scenes"):
        read_cube(root)
    (root / "flowers_ms" / "flowers_ms" / "flowers_ms_17.png").unlink()
    with pytest.raises(DataError, match="_ms_17.png"):
        read_cube(root / "flowers_ms")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no CAVE band images"):
        read_cube(tmp_path / "empty")


# ---------------------------------------------------------------- MATLAB


def test_mat_v5_arad_cube_and_bands(tmp_path):
    data = random_cube()
    bands = np.arange(400.0, 701.0, 10.0) + 0.5
    scipy.io.savemat(tmp_path / "arad.mat", {"cube": data, "bands": bands[None, :], "norm_factor": 1.0})
    cube = read_cube(tmp_path / "arad.mat")
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_array_equal(cube.wavelengths, bands)
    assert cube.scale == 1.0 and cube.meta["key"] == "cube" and cube.meta["format"] == "mat-v5"


def test_mat_v73_written_like_matlab_reads_as_hwc(tmp_path):
    data = random_cube(height=7, width=3)
    data[1, 2, 3] = 0.123
    write_matlab_v73(tmp_path / "arad.mat", {"cube": data, "bands": WAVELENGTHS})
    with h5py.File(tmp_path / "arad.mat", "r") as handle:
        assert handle["cube"].shape == (31, 3, 7)  # h5py sees MATLAB's (H, W, C) reversed
    cube = read_cube(tmp_path / "arad.mat")
    assert cube.shape == (7, 3, 31) and cube.meta["format"] == "mat-v7.3"
    assert cube.data[1, 2, 3] == np.float32(0.123)
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_array_equal(cube.wavelengths, WAVELENGTHS)


def test_mat_v73_written_by_us_is_matlab_compatible(tmp_path):
    data = random_cube(height=7, width=3)
    write_cube(tmp_path / "out.mat", Cube(data, WAVELENGTHS))
    assert scipy.io.matlab.matfile_version(tmp_path / "out.mat") == (2, 0)  # scipy recognises the v7.3 header
    with open(tmp_path / "out.mat", "rb") as handle:
        assert handle.read(19) == b"MATLAB 7.3 MAT-file"
    with h5py.File(tmp_path / "out.mat", "r") as handle:
        assert handle.userblock_size == 512
        assert handle["cube"].shape == (31, 3, 7) and handle["bands"].shape == (31, 1)
        assert handle["cube"].attrs["MATLAB_class"] == b"single"
        np.testing.assert_array_equal(handle["cube"][()].T, data)
    cube = read_cube(tmp_path / "out.mat")
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_array_equal(cube.wavelengths, WAVELENGTHS)


@pytest.mark.parametrize(
    "key, first_nm",
    [("rad", 400.0), ("ref", 420.0), ("Omsi", 400.0)],
)
def test_mat_dataset_keys_and_their_published_wavelengths(tmp_path, key, first_nm):
    stored = (random_cube() * 65535).astype(np.uint16) if key == "Omsi" else random_cube().astype(np.float64)
    scipy.io.savemat(tmp_path / "scene.mat", {key: stored, "lbl": np.ones((6, 5))})
    cube = read_cube(tmp_path / "scene.mat")
    expected_scale = 65535.0 if key == "Omsi" else 1.0
    np.testing.assert_allclose(cube.data, stored / expected_scale, rtol=1e-6)
    assert cube.scale == expected_scale and cube.meta["key"] == key
    np.testing.assert_array_equal(cube.wavelengths, first_nm + 10.0 * np.arange(31))
    assert cube.meta["wavelengths_from"] == "convention"


def test_mat_v73_icvl_rad_with_bands(tmp_path):
    data = random_cube(bands=5).astype(np.float64) * 4095
    bands = np.array([400.0, 450.0, 500.0, 550.0, 600.0])
    write_matlab_v73(tmp_path / "icvl.mat", {"rad": data, "bands": bands})
    cube = read_cube(tmp_path / "icvl.mat")
    np.testing.assert_allclose(cube.data, data, rtol=1e-6)  # floats as stored, not normalised
    np.testing.assert_array_equal(cube.wavelengths, bands)


def unmixing_matrix(cube: np.ndarray) -> np.ndarray:
    """MATLAB's ``reshape(cube, H*W, B)'``: bands × pixels, pixels in column-major order."""
    height, width, bands = cube.shape
    return cube.reshape(height * width, bands, order="F").T


def test_mat_unmixing_layout_with_nrow_ncol_and_maxvalue(tmp_path):
    stored = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 100
    matrix = unmixing_matrix(stored)
    assert matrix[2, 1 + 3 * 2] == stored[1, 2, 2]  # pixel index = row + H·column
    scipy.io.savemat(tmp_path / "jasper.mat", {"Y": matrix, "nRow": 3, "nCol": 4, "maxValue": 5000})
    cube = read_cube(tmp_path / "jasper.mat")
    assert cube.shape == (3, 4, 5) and cube.scale == 5000
    np.testing.assert_allclose(cube.data, stored / 5000.0, rtol=1e-6)


def test_mat_unmixing_layout_square_v73_with_a_3d_ground_truth_beside_it(tmp_path):
    stored = random_cube(height=4, width=4, bands=6).astype(np.float64)
    abundances = np.ones((4, 4, 3))  # like Samson's S_GT: a 3-D array that is not the cube
    write_matlab_v73(tmp_path / "samson.mat", {"Y": unmixing_matrix(stored), "S_GT": abundances})
    cube = read_cube(tmp_path / "samson.mat")
    np.testing.assert_allclose(cube.data, stored, rtol=1e-6)
    assert read_cube(tmp_path / "samson.mat", key="S_GT").shape == (4, 4, 3)


def test_mat_key_selection_and_errors(tmp_path):
    scipy.io.savemat(tmp_path / "two.mat", {"cube": random_cube(), "extra": random_cube(bands=4)})
    assert read_cube(tmp_path / "two.mat").bands == 31
    assert read_cube(tmp_path / "two.mat", key="extra").bands == 4
    with pytest.raises(DataError, match="no variable 'missing'.*cube \\(6, 5, 31\\)"):
        read_cube(tmp_path / "two.mat", key="missing")
    scipy.io.savemat(tmp_path / "ambiguous.mat", {"a": random_cube(), "b": random_cube()})
    with pytest.raises(DataError, match="several 3-D arrays"):
        read_cube(tmp_path / "ambiguous.mat")


def test_mat_with_only_2d_arrays_lists_the_keys(tmp_path):
    scipy.io.savemat(tmp_path / "flat.mat", {"weights": np.ones((2, 3)), "P": np.ones((3, 31))})
    with pytest.raises(DataError) as error:
        read_cube(tmp_path / "flat.mat")
    message = str(error.value)
    assert "flat.mat" in message and "no 3-D array" in message
    assert "weights (2, 3)" in message and "P (3, 31)" in message


# ---------------------------------------------------------------- HDF5, ENVI, TIFF, NumPy


def test_hdf5_cube_with_wavelengths_dataset(tmp_path):
    data = random_cube()
    with h5py.File(tmp_path / "a.h5", "w") as handle:
        handle["cube"] = data
        handle["wavelengths"] = WAVELENGTHS
        handle["other"] = np.ones((2, 2, 2))
    cube = read_cube(tmp_path / "a.h5")
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_array_equal(cube.wavelengths, WAVELENGTHS)


def test_hdf5_single_nested_uint8_dataset_with_bands_attribute(tmp_path):
    stored = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    with h5py.File(tmp_path / "b.hdf5", "w") as handle:
        handle.create_dataset("group/radiance", data=stored).attrs["bands"] = [500.0, 550.0, 600.0, 650.0]
    cube = read_cube(tmp_path / "b.hdf5")
    np.testing.assert_allclose(cube.data, stored / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(cube.wavelengths, [500, 550, 600, 650])
    assert cube.scale == 255


def test_envi_pair_read_from_either_file_with_micrometre_wavelengths(tmp_path):
    stored = (random_cube(bands=4) * 65535).astype(np.uint16)
    metadata = {"wavelength": ["0.45", "0.55", "0.65", "0.75"], "wavelength units": "Micrometers"}
    spectral_envi.save_image(str(tmp_path / "scene.hdr"), stored, metadata=metadata, interleave="bsq", ext=".img")
    for path in (tmp_path / "scene.hdr", tmp_path / "scene.img"):
        cube = read_cube(path)
        np.testing.assert_allclose(cube.data, stored / 65535.0, rtol=1e-6)
        np.testing.assert_allclose(cube.wavelengths, [450, 550, 650, 750])
        assert cube.scale == 65535


def test_envi_reflectance_scale_factor(tmp_path):
    stored = np.full((2, 2, 3), 2500, np.int16)
    spectral_envi.save_image(
        str(tmp_path / "refl.hdr"), stored, metadata={"reflectance scale factor": 10000}, ext=".dat"
    )
    cube = read_cube(tmp_path / "refl.dat")
    np.testing.assert_allclose(cube.data, 0.25)
    assert cube.wavelengths is None and cube.scale == 10000


def test_envi_header_without_units(tmp_path):
    stored = np.zeros((2, 2, 2), np.float32)
    spectral_envi.save_image(str(tmp_path / "um.hdr"), stored, metadata={"wavelength": ["0.5", "2.2"]})
    spectral_envi.save_image(str(tmp_path / "nm.hdr"), stored, metadata={"wavelength": ["500", "2200"]})
    np.testing.assert_allclose(read_cube(tmp_path / "um.hdr").wavelengths, [500, 2200])
    np.testing.assert_allclose(read_cube(tmp_path / "nm.hdr").wavelengths, [500, 2200])
    assert "assumed" in read_cube(tmp_path / "um.hdr").meta["wavelength_units"]


@pytest.mark.parametrize("layout", ["pages", "contiguous"])
def test_tiff_cube_in_either_layout(tmp_path, layout):
    stored = (random_cube(bands=4) * 65535).astype(np.uint16)
    if layout == "pages":
        tifffile.imwrite(tmp_path / "c.tif", np.moveaxis(stored, 2, 0), photometric="minisblack", metadata=None)
    else:
        tifffile.imwrite(tmp_path / "c.tif", stored, photometric="minisblack", planarconfig="contig")
    cube = read_cube(tmp_path / "c.tif")
    np.testing.assert_allclose(cube.data, stored / 65535.0, rtol=1e-6)
    assert cube.wavelengths is None


def test_tiff_writer_stores_one_page_per_band_and_json_wavelengths(tmp_path):
    data = random_cube(bands=4)
    write_cube(tmp_path / "c.tiff", Cube(data, [450.0, 500.0, 550.0, 600.0]))
    with tifffile.TiffFile(tmp_path / "c.tiff") as tif:
        assert len(tif.pages) == 4 and tif.pages[0].shape == (6, 5)
        description = json.loads(tif.pages[0].description)
    assert description["hsinr_cube"]["wavelengths_nm"] == [450.0, 500.0, 550.0, 600.0]


def test_npy_with_sidecar_and_npz(tmp_path):
    data = random_cube()
    np.save(tmp_path / "c.npy", data)
    np.savetxt(tmp_path / "c.npy.wavelengths.txt", WAVELENGTHS)
    cube = read_cube(tmp_path / "c.npy")
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_array_equal(cube.wavelengths, WAVELENGTHS)
    np.savez(tmp_path / "a.npz", cube=data, bands=WAVELENGTHS)
    np.testing.assert_array_equal(read_cube(tmp_path / "a.npz").wavelengths, WAVELENGTHS)
    stored = (data * 65535).astype(np.uint16)
    np.savez(tmp_path / "b.npz", hsi=stored, rgb=np.zeros((6, 5)))
    cube = read_cube(tmp_path / "b.npz")
    np.testing.assert_allclose(cube.data, stored / 65535.0, rtol=1e-6)
    assert cube.wavelengths is None and cube.meta["key"] == "hsi"


# ---------------------------------------------------------------- round trips and streaming

CUBE_SUFFIXES = [".mat", ".h5", ".hdr", ".tif", ".npy", ".npz"]
STREAMING_SUFFIXES = [".h5", ".mat", ".hdr", ".npy"]


@pytest.mark.parametrize("suffix", CUBE_SUFFIXES)
def test_every_writer_round_trips(tmp_path, suffix):
    data = random_cube(height=9, width=7, bands=5)
    wavelengths = np.array([401.25, 455.5, 512.0, 610.125, 698.75])
    write_cube(tmp_path / f"cube{suffix}", Cube(data, wavelengths))
    cube = read_cube(tmp_path / f"cube{suffix}")
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_array_equal(cube.wavelengths, wavelengths)
    assert cube.scale == 1.0
    write_cube(tmp_path / f"bare{suffix}", Cube(data))
    assert read_cube(tmp_path / f"bare{suffix}").wavelengths is None


@pytest.mark.parametrize("suffix", STREAMING_SUFFIXES)
def test_streaming_writer_equals_whole_write(tmp_path, suffix):
    data = random_cube(height=70, width=90, bands=7, seed=3)
    write_cube(tmp_path / f"whole{suffix}", Cube(data, np.linspace(400, 700, 7)))
    with open_cube_writer(tmp_path / f"tiled{suffix}", data.shape, np.linspace(400, 700, 7)) as writer:
        for y0 in range(0, 70, 32):  # tiles not aligned to the 64 × 64 chunks, ragged at the edges
            for x0 in range(0, 90, 40):
                writer.write(y0, x0, data[y0 : y0 + 32, x0 : x0 + 40])
    whole, tiled = read_cube(tmp_path / f"whole{suffix}"), read_cube(tmp_path / f"tiled{suffix}")
    np.testing.assert_array_equal(tiled.data, data)
    np.testing.assert_array_equal(tiled.data, whole.data)
    np.testing.assert_array_equal(tiled.wavelengths, whole.wavelengths)


def test_h5_chunks_hold_whole_spectra_of_small_squares(tmp_path):
    assert chunk_side(31) == 64 and chunk_side(224) == 34 and chunk_side(100000) == 8
    write_cube(tmp_path / "c.h5", Cube(random_cube(height=100, width=40, bands=31)))
    write_cube(tmp_path / "c.mat", Cube(random_cube(height=100, width=40, bands=31)))
    with h5py.File(tmp_path / "c.h5", "r") as handle:
        assert handle["cube"].chunks == (64, 40, 31)
    with h5py.File(tmp_path / "c.mat", "r") as handle:
        assert handle["cube"].chunks == (31, 40, 64)


@pytest.mark.parametrize("suffix", STREAMING_SUFFIXES)
def test_streaming_writer_never_allocates_the_whole_cube(tmp_path, suffix):
    shape = (256, 256, 31)  # 8 MiB of float32
    tile = np.full((32, 32, 31), 0.5, np.float32)
    tracemalloc.start()
    with open_cube_writer(tmp_path / f"big{suffix}", shape) as writer:
        for y0 in range(0, 256, 32):
            for x0 in range(0, 256, 32):
                writer.write(y0, x0, tile)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 2**20  # numpy/Python allocations only; h5's C chunk cache (≤ 64 MiB) is not traced
    assert read_cube(tmp_path / f"big{suffix}").data.mean() == pytest.approx(0.5)


def test_streaming_writer_checks_blocks_and_removes_a_failed_file(tmp_path):
    with open_cube_writer(tmp_path / "c.h5", (4, 4, 3)) as writer:
        with pytest.raises(DataError, match="outside the cube"):
            writer.write(2, 2, np.zeros((3, 3, 3)))
        with pytest.raises(DataError, match=r"\(h, w, 3\)"):
            writer.write(0, 0, np.zeros((2, 2, 4)))
    with pytest.raises(RuntimeError):
        with open_cube_writer(tmp_path / "broken.npy", (4, 4, 3)) as writer:
            writer.write(0, 0, np.ones((2, 2, 3)))
            raise RuntimeError("model crashed")
    assert not (tmp_path / "broken.npy").exists()
    with pytest.raises(DataError, match="streaming cube writer.*\\.tif"):
        open_cube_writer(tmp_path / "c.tif", (4, 4, 3))
    with pytest.raises(DataError, match="4 wavelengths stored for a cube of 3 bands"):
        open_cube_writer(tmp_path / "c.npy", (4, 4, 3), wavelengths=[1, 2, 3, 4])


def test_npy_writer_without_wavelengths_removes_a_stale_sidecar(tmp_path):
    write_cube(tmp_path / "c.npy", Cube(random_cube(bands=3), [1.0, 2.0, 3.0]))
    write_cube(tmp_path / "c.npy", Cube(random_cube(bands=3)))
    assert read_cube(tmp_path / "c.npy").wavelengths is None


# ---------------------------------------------------------------- user errors


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="nothere.mat: no such file"):
        read_cube(tmp_path / "nothere.mat")
    (tmp_path / "cube.xyz").write_bytes(b"123")
    with pytest.raises(DataError, match="unknown cube file type '.xyz'.*\\.mat.*\\.npz"):
        read_cube(tmp_path / "cube.xyz")
    with pytest.raises(DataError, match="cannot write a cube file with extension '.xyz'"):
        write_cube(tmp_path / "out.xyz", Cube(random_cube()))
    assert any(".mat" in line for line in supported_formats()) and len(supported_formats()) == 7


@pytest.mark.parametrize("suffix", [".mat", ".h5", ".tif", ".npy", ".npz", ".hdr"])
def test_corrupt_files_raise_data_error_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"corrupt{suffix}"
    path.write_bytes(b"this is not a cube file at all" * 10)
    with pytest.raises(DataError, match=f"corrupt\\{suffix}"):
        read_cube(path)


def test_truncated_v73_mat_raises_data_error(tmp_path):
    write_cube(tmp_path / "full.mat", Cube(random_cube()))
    content = (tmp_path / "full.mat").read_bytes()
    (tmp_path / "cut.mat").write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match="cut.mat"):
        read_cube(tmp_path / "cut.mat")


def test_nonfinite_cube_is_rejected_unless_allowed(tmp_path):
    data = random_cube()
    data[0, 0, 0] = np.nan
    data[1, 1, 1] = np.inf
    np.save(tmp_path / "nan.npy", data)
    with pytest.raises(DataError, match="nan.npy: 2 NaN/Inf values"):
        read_cube(tmp_path / "nan.npy")
    assert np.isnan(read_cube(tmp_path / "nan.npy", allow_nonfinite=True).data[0, 0, 0])


def test_key_is_refused_where_it_means_nothing(tmp_path):
    np.save(tmp_path / "c.npy", random_cube())
    with pytest.raises(DataError, match="key= applies only"):
        read_cube(tmp_path / "c.npy", key="cube")


# ---------------------------------------------------------------- real data (skipped when absent)


def shared_file(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real data {path} is not available on this machine")
    return path


def test_real_cave_balloons_256():
    cube = read_cube(shared_file("cave/balloons_256.mat"))
    assert cube.shape == (256, 256, 31) and cube.scale == 65535
    assert 0.0 <= cube.data.min() and cube.data.max() <= 1.0
    np.testing.assert_array_equal(cube.wavelengths, WAVELENGTHS)


def test_real_jasper_ridge_matches_the_manifest_recipe():
    path = shared_file("remote/jasper_ridge_198.mat")
    cube = read_cube(path)
    assert cube.shape == (100, 100, 198) and cube.scale == 5000
    stored = scipy.io.loadmat(path)["Y"]
    recipe = stored.reshape(198, 100, 100, order="F").transpose(1, 2, 0) / 5000.0
    np.testing.assert_allclose(cube.data, recipe, rtol=1e-6)


def test_real_samson_orientation_agrees_with_its_abundance_maps():
    """Linear mixing cube ≈ S_GT · M fits far better with our unfolding than with rows and columns swapped."""
    path = shared_file("remote/samson.mat")
    cube = read_cube(path).data.astype(np.float64)
    abundances = scipy.io.loadmat(path)["S_GT"].reshape(-1, 3)

    def mixing_rmse(image):
        pixels = image.reshape(-1, image.shape[2])
        endmembers = np.linalg.lstsq(abundances, pixels, rcond=None)[0]
        return np.sqrt(np.mean((abundances @ endmembers - pixels) ** 2))

    assert cube.shape == (95, 95, 156)
    assert mixing_rmse(cube) < 0.7 * mixing_rmse(cube.transpose(1, 0, 2))
