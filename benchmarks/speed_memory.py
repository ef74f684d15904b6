"""Size, cost, speed and memory of INR-HSISR (paper and efficient configurations) next to MST++, in one run.

Usage::

    python benchmarks/speed_memory.py [--out benchmarks/results/speed_memory.json] [--device cpu|cuda]
                                      [--threads 1] [--size 256] [--repeats 5] [--steps 5] [--amp off|bf16|fp16]

For each model (``configs/inr_hsisr_paper.yaml``, ``configs/inr_hsisr_efficient.yaml`` and the recipe
``configs/inr_hsisr_cave.yaml`` — root-polynomial prior + efficient INR residual, its prior fitted to random data —
and ``mst_plus_plus`` with its defaults) it reports:

* ``parameters`` (:func:`hsinr.complexity.count_parameters`) and ``macs_per_pixel`` for a 64×64 input
  (:func:`hsinr.complexity.macs_per_pixel`);
* inference on one ``size``×``size`` image (default 256×256, a smooth random RGB image in [0, 1]), whole image in one
  forward pass under ``torch.no_grad``: one warm-up pass, then the median of ``repeats`` passes, as wall-clock and
  process-CPU milliseconds per megapixel (ms/MP);
* peak resident memory of that inference: ``ru_maxrss`` of a fresh child process that imports torch, builds the model
  and runs the passes (``rss_model_mb`` is the same counter just before the first pass, so the difference is what
  the forward pass itself needs); on CUDA also ``torch.cuda.max_memory_allocated``;
* training throughput: batches of 8 random 64×64 patches (RGB in, 31-band target), L1 loss, backward and one Adam
  step; two warm-up steps, then the median step time of ``steps`` steps, as patches per wall-clock second and per
  CPU second of the process (another child, whose peak RSS is ``train_peak_rss_mb``);
* ratios of each number to MST++'s, measured in the same run.

``--amp bf16`` / ``fp16`` runs the forward passes of both tasks under :func:`hsinr.train.autocast`, as training does
(the loss in float32; fp16 without a gradient scaler, which changes no timing).

Each measurement runs in its own child process (``python speed_memory.py --child ...``) so that peak memory
belongs to one model and one task. Numerical libraries use ``--threads`` threads (default 1): on a shared machine
single-thread CPU times vary least, and the CPU-time columns are the ones to compare when other jobs compete for the
cores (wall-clock times then include waiting). Results are a table on stdout and JSON in ``--out``.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from untrained_model import spec_of_config, untrained_model  # noqa: E402  (benchmarks/, beside this script)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "speed_memory.json"
MODELS = {
    "inr_hsisr_paper": ROOT / "configs" / "inr_hsisr_paper.yaml",
    "inr_hsisr_efficient": ROOT / "configs" / "inr_hsisr_efficient.yaml",
    "inr_hsisr_recipe": ROOT / "configs" / "inr_hsisr_cave.yaml",
    "mst_plus_plus": None,
}
REFERENCE = "mst_plus_plus"
TRAIN_BATCH, TRAIN_PATCH, BANDS = 8, 64, 31


def model_spec(label: str) -> dict:
    """Registry spec of a benchmarked model: the ``model`` section of its config file, or the defaults."""
    path = MODELS[label]
    return {"name": label, "args": {}} if path is None else spec_of_config(path)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def smooth_rgb(size: int, seed: int = 0):
    """A ``(1, 3, size, size)`` float32 image in [0, 1]: a few random low-frequency sinusoids per channel."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    channels = [
        0.5
        + 0.15
        * sum(
            np.sin(2 * np.pi * (rng.uniform(0.5, 3) * xx + rng.uniform(0.5, 3) * yy) + rng.uniform(0, 6))
            for _ in range(3)
        )
        for _ in range(3)
    ]
    return torch.from_numpy(np.clip(np.stack(channels), 0, 1).astype(np.float32))[None]


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_inference(spec: dict, size: int, repeats: int, device_name: str, amp: str) -> dict:
    """Child task: parameters, MACs/pixel, median forward time and peak memory on one ``size``² image."""
    import torch

    from hsinr.complexity import count_parameters, macs_per_pixel
    from hsinr.train import autocast

    device = torch.device(device_name)
    torch.manual_seed(0)
    model = untrained_model(spec).eval()
    result = {
        "rss_model_mb": peak_rss_mb(),
        "parameters": count_parameters(model),
        "macs_per_pixel": macs_per_pixel(model, 64, 64),
    }
    model.to(device)
    rgb = smooth_rgb(size).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    walls, cpus = [], []
    with torch.no_grad():
        for index in range(repeats + 1):  # the first pass is the warm-up
            _sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            with autocast(device, amp):
                model(rgb)
            _sync(device)
            if index:
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
    megapixels = size * size / 1e6
    result.update(
        infer_ms_per_mp=1000 * statistics.median(walls) / megapixels,
        infer_cpu_ms_per_mp=1000 * statistics.median(cpus) / megapixels,
        infer_peak_rss_mb=peak_rss_mb(),
    )
    if device.type == "cuda":
        result["infer_peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return result


def measure_training(spec: dict, steps: int, device_name: str, amp: str) -> dict:
    """Child task: median time of one L1 + backward + Adam step on 8 random 64×64 patches → patches per second."""
    import torch
    import torch.nn.functional as F

    from hsinr.train import autocast

    device = torch.device(device_name)
    torch.manual_seed(0)
    model = untrained_model(spec).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(TRAIN_BATCH, 3, TRAIN_PATCH, TRAIN_PATCH, generator=generator).to(device)
    cube = torch.rand(TRAIN_BATCH, BANDS, TRAIN_PATCH, TRAIN_PATCH, generator=generator).to(device)
    times, cpu_times = [], []
    for index in range(steps + 2):  # two warm-up steps (allocations, Adam state)
        _sync(device)
        start, cpu = time.perf_counter(), time.process_time()
        with autocast(device, amp):
            prediction = model(rgb)
        loss = F.l1_loss(prediction.float(), cube)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(device)
        if index >= 2:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
    return {
        "train_patches_per_s": TRAIN_BATCH / statistics.median(times),
        "train_patches_per_cpu_s": TRAIN_BATCH / statistics.median(cpu_times),
        "train_peak_rss_mb": peak_rss_mb(),
    }


def run_child(label: str, task: str, options: argparse.Namespace) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result."""
    command = [
        sys.executable,
        __file__,
        "--child",
        label,
        task,
        "--device",
        options.device,
        "--threads",
        str(options.threads),
        "--size",
        str(options.size),
        "--repeats",
        str(options.repeats),
        "--steps",
        str(options.steps),
        "--amp",
        options.amp,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{label} {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(options: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(options.threads)
    label, task = options.child
    spec = model_spec(label)
    if task == "infer":
        result = measure_inference(spec, options.size, options.repeats, options.device, options.amp)
    else:
        result = measure_training(spec, options.steps, options.device, options.amp)
    print(json.dumps(result))


RATIO_KEYS = (
    "parameters",
    "macs_per_pixel",
    "infer_ms_per_mp",
    "infer_cpu_ms_per_mp",
    "infer_peak_rss_mb",
    "train_patches_per_s",
    "train_patches_per_cpu_s",
)


def print_table(rows: list[dict], device: str) -> None:
    cuda = device.startswith("cuda")
    memory = "peak CUDA MiB" if cuda else "peak RSS MiB"
    print(
        f"{'model':<20} {'parameters':>12} {'MACs/pixel':>12} {'ms/MP':>9} {'CPU ms/MP':>10} {memory:>13} "
        f"{'RSS before':>10} {'train patches/s':>15} {'per CPU-s':>9}"
    )
    for row in rows:
        peak = row["infer_peak_cuda_mb"] if cuda else row["infer_peak_rss_mb"]
        print(
            f"{row['model']:<20} {row['parameters']:>12,} {row['macs_per_pixel']:>12,.0f} "
            f"{row['infer_ms_per_mp']:>9.0f} {row['infer_cpu_ms_per_mp']:>10.0f} {peak:>13.0f} "
            f"{row['rss_model_mb']:>10.0f} {row['train_patches_per_s']:>15.2f} "
            f"{row['train_patches_per_cpu_s']:>9.2f}"
        )
    if not rows or "ratio_to_" + REFERENCE not in rows[0]:
        return
    print(f"\nratios to {REFERENCE} (same run):")
    print(f"{'model':<20} " + " ".join(f"{key:>20}" for key in RATIO_KEYS))
    for row in rows:
        print(f"{row['model']:<20} " + " ".join(f"{row['ratio_to_' + REFERENCE][key]:>20.3g}" for key in RATIO_KEYS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads in each measurement")
    parser.add_argument("--size", type=int, default=256, help="inference image height = width")
    parser.add_argument("--repeats", type=int, default=5, help="timed inference passes (after one warm-up)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps (after two warm-up steps)")
    parser.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"), help="autocast of the forward passes")
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(MODELS),
        choices=list(MODELS),
        help="models to measure (ratios need mst_plus_plus among them)",
    )
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "TASK"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child_main(options)
        return

    started, load_before = time.time(), os.getloadavg()
    rows = []
    for label in options.models:
        row = {"model": label, "spec": model_spec(label)}
        row.update(run_child(label, "infer", options))
        row.update(run_child(label, "train", options))
        rows.append(row)
        print(f"measured {label}", file=sys.stderr)
    reference = next((row for row in rows if row["model"] == REFERENCE), None)
    for row in rows:
        if reference is not None:
            row["ratio_to_" + REFERENCE] = {key: row[key] / reference[key] for key in RATIO_KEYS}
    print_table(rows, options.device)
    import torch

    result = {
        "benchmark": "speed_memory",
        "settings": {
            "device": options.device,
            "threads": options.threads,
            "infer_size": options.size,
            "infer_repeats": options.repeats,
            "train_batch": TRAIN_BATCH,
            "train_patch": TRAIN_PATCH,
            "train_steps": options.steps,
            "amp": options.amp,
            "macs_input": [64, 64],
        },
        "models": rows,
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "processor": platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "seconds": round(time.time() - started, 1),
        },
        "command": "python benchmarks/speed_memory.py " + " ".join(sys.argv[1:]),
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
