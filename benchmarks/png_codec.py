"""Seconds and peak memory to decode and encode one large 16-bit RGB PNG with each candidate codec.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/png_codec.py [--size 4096] [--repeats 3] [--level 6]
                                                     [--codecs imagecodecs,opencv] [--legacy PATH]
                                                     [--out benchmarks/results/png_codec.json]

Candidates: ``imagecodecs`` (libpng, ``png_decode``/``png_encode``) and ``opencv`` (``opencv-python-headless``,
``cv2.imread``/``cv2.imwrite`` with ``IMREAD_UNCHANGED``; its B-G-R arrays are converted to R-G-B, and the conversion
is timed with the codec). ``--legacy PATH`` adds the hand-written numpy codec that hsinr 0.1.0 shipped (the
baseline); get it with ``git show f849da7:src/hsinr/io/png16.py > /tmp/legacy_png16.py``.

The test image is ``size``×``size``×3 uint16: the smooth low-frequency sinusoids of ``big_image.py`` (as a
photograph's shading) at full scale plus seeded Gaussian noise of 64 DN (a camera's read noise), so the zlib stream is
neither trivial nor incompressible. It is written once by the first candidate (libpng's adaptive row filters, as most
writers use) and every decoder reads that file. Encoders write with zlib level ``--level`` (the old codec's fixed 6 by
default) so sizes and times compare.

Every measurement runs in a fresh child process (``--worker``): it imports the codec, reads its ``RSS before``
(``VmRSS``), runs one decode or encode, then reads its peak RSS (``VmHWM``) and its own CPU time. ``extra`` =
peak − before: the memory the operation needs, its 96 MiB result (at 4096²) included. Decoded arrays are compared
with the reference in R-G-B order, encoded files are decoded again and compared; a mismatch stops the benchmark.

The table shows, of ``--repeats`` runs, the one with the least CPU time (its wall and CPU seconds) and the ratio of
each codec's CPU time to the fastest codec's, all from this one run. The load average before and after is printed
and stored: other jobs on the machine stretch wall times, CPU times much less.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from big_image import smooth_rgb  # benchmarks/ is on sys.path when this file runs as a script

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "png_codec.json"
CODECS = ("imagecodecs", "opencv")
MODULES = {"imagecodecs": "imagecodecs", "opencv": "cv2"}
OPERATIONS = ("decode", "encode")
NOISE_DN = 64


def test_image(size: int, seed: int = 0) -> np.ndarray:
    """``(size, size, 3)`` uint16: ``big_image.smooth_rgb`` (three random sinusoids per channel) at full scale plus
    seeded Gaussian noise of ``NOISE_DN``."""
    rng = np.random.default_rng(seed + 1)
    image = smooth_rgb(size, seed)
    for channel in range(3):  # one channel at a time keeps the float temporaries at size² × 4 bytes
        plane = image[..., channel] * 65535 + rng.normal(0, NOISE_DN, (size, size)).astype(np.float32)
        image[..., channel] = np.clip(plane, 0, 65535)
    return np.rint(image).astype(np.uint16)


# ---------------------------------------------------------------- the codecs, R-G-B in and out


def load_legacy(path: Path):
    """Import the old ``hsinr.io.png16`` from a file (it imports ``..errors``, so it joins the ``hsinr.io`` package)."""
    import hsinr.io  # noqa: F401  (the parent package of the loaded module)

    spec = importlib.util.spec_from_file_location("hsinr.io._legacy_png16", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


def decoder(codec: str, legacy: Path | None):
    """A function ``path -> (H, W, 3) uint16`` in R-G-B order."""
    if codec == "imagecodecs":
        import imagecodecs

        return lambda path: imagecodecs.png_decode(path.read_bytes())
    if codec == "opencv":
        import cv2

        cv2.setNumThreads(1)
        return lambda path: cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
    return load_legacy(legacy).decode_png16


def encoder(codec: str, legacy: Path | None, level: int):
    """A function ``(path, (H, W, 3) uint16 R-G-B) -> None`` writing a 16-bit PNG with zlib level ``level``."""
    if codec == "imagecodecs":
        import imagecodecs

        return lambda path, image: path.write_bytes(imagecodecs.png_encode(image, level=level))
    if codec == "opencv":
        import cv2

        cv2.setNumThreads(1)

        def write(path: Path, image: np.ndarray) -> None:
            if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, level]):
                raise RuntimeError(f"cv2.imwrite failed for {path}")

        return write
    return load_legacy(legacy).encode_png16  # always zlib level 6


# ---------------------------------------------------------------- one measurement in a child process


def status_mib(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of this process, in MiB, from ``/proc/self/status``.

    ``VmHWM`` belongs to this process's own address space; ``ru_maxrss`` would not do here, because Linux carries it
    over from the parent through fork and exec.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(codec: str, operation: str, source: Path, target: Path, legacy: Path | None, level: int) -> dict:
    """Run one ``operation`` and return its wall/CPU seconds and memory; ``source`` is the PNG (decode) or the
    reference ``.npy`` (encode)."""
    if operation == "decode":
        run = decoder(codec, legacy)
        before = status_mib("VmRSS")
        cpu, start = time.process_time(), time.perf_counter()
        image = run(source)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak = status_mib("VmHWM")
        np.save(target, image)  # checked by the parent, after the measurement
    else:
        run = encoder(codec, legacy, level)
        image = np.load(source)
        before = status_mib("VmRSS")
        cpu, start = time.process_time(), time.perf_counter()
        run(target, image)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak = status_mib("VmHWM")
    return {"wall_s": wall, "cpu_s": cpu, "rss_before_mib": before, "peak_rss_mib": peak, "extra_mib": peak - before}


def measure(codec: str, operation: str, source: Path, target: Path, options: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        codec,
        operation,
        str(source),
        str(target),
        "--level",
        str(options.level),
    ]
    if options.legacy:
        command += ["--legacy", str(options.legacy)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{codec} {operation} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(codec: str, operation: str, target: Path, reference: np.ndarray) -> None:
    """Stop unless the decoded array (or the encoded file, decoded again by a library codec) equals ``reference``."""
    if operation == "decode":
        result = np.load(target)
    else:
        result = decoder("imagecodecs" if importlib.util.find_spec("imagecodecs") else "opencv", None)(target)
    if result.dtype != np.uint16 or result.shape != reference.shape or not np.array_equal(result, reference):
        raise RuntimeError(f"{codec} {operation}: result differs from the reference ({result.dtype}, {result.shape})")


# ---------------------------------------------------------------- the run


def versions(codecs: list[str]) -> dict:
    found = {"numpy": np.__version__, "python": platform.python_version()}
    if "imagecodecs" in codecs:
        import imagecodecs

        found["imagecodecs"] = imagecodecs.__version__
        found["libpng (imagecodecs)"] = imagecodecs.png_version()
    if "opencv" in codecs:
        import cv2

        found["opencv"] = cv2.__version__
    return found


def table(rows: list[dict]) -> str:
    best = {op: min(row["cpu_s"] for row in rows if row["operation"] == op) for op in OPERATIONS}
    lines = [
        "| codec | operation | wall s | CPU s | × fastest (CPU) | peak RSS MiB | extra MiB | file MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['codec']} | {row['operation']} | {row['wall_s']:.3f} | {row['cpu_s']:.3f} | "
            f"{row['cpu_s'] / best[row['operation']]:.1f} | {row['peak_rss_mib']:.0f} | "
            f"{row['extra_mib']:.0f} | {row['file_mib']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="image height = width in pixels")
    parser.add_argument("--repeats", type=int, default=3, help="runs per codec and operation (the fastest is kept)")
    parser.add_argument("--level", type=int, default=6, help="zlib compression level of the encoders (0-9)")
    parser.add_argument("--codecs", default=",".join(CODECS), help="comma-separated: imagecodecs, opencv")
    parser.add_argument("--legacy", type=Path, help="file of the old hand-written hsinr.io.png16 (the baseline)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    parser.add_argument("--worker", nargs=4, metavar=("CODEC", "OP", "SOURCE", "TARGET"), help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.worker:
        codec, operation, source, target = options.worker
        print(json.dumps(worker(codec, operation, Path(source), Path(target), options.legacy, options.level)))
        return

    codecs = [name for name in options.codecs.split(",") if name]
    unknown = set(codecs) - set(CODECS)
    if unknown or not codecs:
        parser.error(f"unknown codec(s) {sorted(unknown)}; choose from {CODECS}")
    missing = [name for name in codecs if importlib.util.find_spec(MODULES[name]) is None]
    if missing:  # opencv is not a dependency of hsinr: `pip install opencv-python-headless` to include it
        print(f"skipping {', '.join(missing)}: not installed", file=sys.stderr)
        codecs = [name for name in codecs if name not in missing]
    if not codecs:
        parser.error("none of the codecs is installed")
    candidates = codecs + (["legacy"] if options.legacy else [])
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="hsinr_png_codec_") as work:
        work_dir = Path(work)
        reference = test_image(options.size)
        np.save(work_dir / "reference.npy", reference)
        png = work_dir / "reference.png"
        encoder(codecs[0], None, options.level)(png, reference)
        for codec in candidates:
            for operation in OPERATIONS:
                source = png if operation == "decode" else work_dir / "reference.npy"
                target = work_dir / (f"{codec}_decoded.npy" if operation == "decode" else f"{codec}_encoded.png")
                runs = []
                for _ in range(options.repeats):
                    runs.append(measure(codec, operation, source, target, options))
                    check(codec, operation, target, reference)
                fastest = min(runs, key=lambda run: run["cpu_s"])  # CPU time: least disturbed by other jobs
                file_mib = (png if operation == "decode" else target).stat().st_size / 2**20
                rows.append(
                    {
                        "codec": codec,
                        "operation": operation,
                        **fastest,
                        "file_mib": file_mib,
                        "wall_s_all": [run["wall_s"] for run in runs],
                        "cpu_s_all": [run["cpu_s"] for run in runs],
                        "peak_rss_mib_max": max(run["peak_rss_mib"] for run in runs),
                    }
                )
                print(
                    f"{codec:12s} {operation}: CPU s {[round(run['cpu_s'], 3) for run in runs]}, wall s "
                    f"{[round(run['wall_s'], 3) for run in runs]}",
                    file=sys.stderr,
                )
    load_after = os.getloadavg()
    print(
        f"{options.size}×{options.size} 16-bit RGB PNG, zlib level {options.level}, least CPU of {options.repeats} "
        f"runs; load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(table(rows))
    result = {
        "size": options.size,
        "repeats": options.repeats,
        "level": options.level,
        "noise_dn": NOISE_DN,
        "written_by": codecs[0],
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpus": os.cpu_count(),
        "versions": versions(codecs),
        "rows": rows,
        "command": "OMP_NUM_THREADS=1 python benchmarks/png_codec.py " + " ".join(sys.argv[1:]),
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
