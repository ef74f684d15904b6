"""Export an RGB→HSI model to ONNX with a dynamic batch, height and width, and check the graph against PyTorch.

The exported graph has one input ``rgb`` float32 ``(N, 3, H, W)`` — linear RGB in [0, 1], as the model was trained —
and one output ``cube`` float32 ``(N, C, H, W)``; ``N``, ``H`` and ``W`` are dynamic.

How sizes that are not a multiple of the model's cell / downsampling factor keep working: the models pad the image
at the bottom/right to that multiple and crop the result (``inr_hsisr``: edge replication to a multiple of
``cell_size``; the U-Nets and MST++: reflection to ``2**levels``). The exporter traces one forward pass, so a Python
``if`` on the size is frozen to the branch the tracing input took. We therefore trace at :data:`TRACE_SIZE`, odd in
both directions, so that the *padding* branch is recorded; its pad amounts are computed in the graph from the input
size, and a pad of zero at sizes that are multiples is exact. The graph is then run with ONNX Runtime at
:data:`CHECK_SIZES` (a size that is a multiple of 64, and another odd one, with batch 2) and compared with PyTorch;
a model whose graph does not generalise fails this check and nothing is written.

Known constraint: models that pad by *reflection* to a multiple ``m`` (MST++: 4, ``unet_nie2018``: 8,
``mscnn_yan2018``) need the padding smaller than the image, i.e. ``H, W > m / 2`` (≥ 3 for MST++, ≥ 5 for the U-Net)
unless they are multiples of ``m``; in PyTorch such tiny images fall back to edge replication, a branch the graph
does not contain, and ONNX Runtime rejects them. ``inr_hsisr`` (edge replication) takes any size.

The ONNX file carries the checkpoint's metadata as ``metadata_props`` (JSON strings): ``hsinr_spec`` (registry name
and arguments), ``wavelengths`` (nm), ``srf`` ((3, C) camera response or null), ``response``, ``input``,
``hsinr_version``; read them back with :func:`onnx_metadata`.

Uses the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): the ``torch.export``-based one needs
``onnxscript``, which is not a dependency. Verification needs ``onnxruntime`` (``pip install hsinr[export]``).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from . import __version__
from .errors import ConfigError
from .io.atomic import atomic_path, prepare_output_folder

DEFAULT_OPSET = 17
TRACE_SIZE = (67, 75)
"""Height, width of the tracing input: odd, so that every power-of-two padding branch is the one recorded."""
CHECK_SIZES = ((1, 64, 64), (2, 41, 57))
"""(batch, height, width) of the inputs on which ONNX Runtime must reproduce PyTorch."""
TOLERANCE = 1e-4
"""Largest accepted ``|onnx − torch|``, relative to ``max(1, max |torch|)``."""
INPUT_NAME, OUTPUT_NAME = "rgb", "cube"


class _RGBOnly(nn.Module):
    """``forward(rgb)`` only: the TorchScript exporter would turn a model's keyword defaults (``origin``, …) into
    extra graph inputs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.model(rgb)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    metadata: dict | None = None,
    check: bool = True,
) -> dict:
    """Write ``model`` (RGB ``(N, 3, H, W)`` → cube ``(N, C, H, W)``) to ``path`` as ONNX with dynamic N, H, W.

    Args:
        model: a registry model whose ``input_keys`` is ``("rgb",)``; it is exported in eval mode on the CPU.
        path: the ``.onnx`` file; written atomically (:func:`hsinr.io.atomic.atomic_path`), so a failed or
            interrupted export leaves nothing behind and keeps a file that was already there.
        opset: ONNX opset version (11, 13, 17, 18 and 20 tested; ≥ 17 keeps ``LayerNorm`` one operator).
        metadata: JSON-able values stored as ``metadata_props`` (see :func:`onnx_metadata`).
        check: run the graph with ONNX Runtime at :data:`CHECK_SIZES` and compare with PyTorch.

    Returns:
        ``{"path", "opset", "trace_size", "checks": [{"batch", "height", "width", "max_abs_diff", "tolerance"}]}``.

    Raises:
        ConfigError: the model does not take one RGB image, cannot be traced, or its graph does not reproduce
            PyTorch at a checked size (the message gives the size and the difference).
    """
    keys = tuple(getattr(model, "input_keys", ("rgb",)))
    if keys != ("rgb",):
        raise ConfigError(f"ONNX export needs an RGB→HSI model (input_keys ('rgb',)); this one takes {keys}")
    path = Path(path)
    wrapper = _RGBOnly(model).eval().cpu()
    dynamic = {0: "batch", 2: "height", 3: "width"}
    prepare_output_folder(path.parent)
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            # Size-dependent branches are traced on purpose (see the module docstring) and checked afterwards.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            # Reflection padding exports as reversed slices, which torch's constant folding skips (and says so).
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
            try:
                torch.onnx.export(
                    wrapper,
                    (torch.rand(1, 3, *TRACE_SIZE, generator=torch.Generator().manual_seed(0)),),
                    tmp,
                    dynamo=False,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_axes={INPUT_NAME: dynamic, OUTPUT_NAME: dynamic},
                    opset_version=opset,
                    do_constant_folding=True,
                )
            except ConfigError:
                raise
            except Exception as exc:  # an operator without an ONNX counterpart, untraceable Python, bad opset
                raise ConfigError(
                    f"{path}: cannot export {type(model).__name__} to ONNX opset {opset}: {type(exc).__name__}: {exc}"
                ) from exc
        if metadata:
            _write_metadata(tmp, metadata)
        checks = verify_onnx(tmp, model, name=path) if check else []
    return {"path": str(path), "opset": opset, "trace_size": list(TRACE_SIZE), "checks": checks}


def verify_onnx(
    path: str | os.PathLike, model: nn.Module, sizes=CHECK_SIZES, name: str | os.PathLike | None = None
) -> list[dict]:
    """Run the ONNX graph at each ``(batch, height, width)`` of ``sizes`` and compare with ``model`` on the CPU.

    Inputs are uniform random RGB in [0, 1) (seed 0). Raises :class:`ConfigError` naming the first size where
    ``max |onnx − torch|`` exceeds ``TOLERANCE · max(1, max |torch|)`` (or the graph fails), calling the file
    ``name`` (default ``path``); returns one record per size otherwise.
    """
    shown = name or path
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "checking the exported graph needs onnxruntime (pip install 'hsinr[export]'); or skip the check"
        ) from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # failures are reported below as a ConfigError, not logged twice
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    model = model.eval().cpu()
    records = []
    for batch, height, width in sizes:
        rgb = torch.rand(batch, 3, height, width, generator=generator)
        with torch.no_grad():
            expected = model(rgb).numpy()
        try:
            got = session.run([OUTPUT_NAME], {INPUT_NAME: rgb.numpy()})[0]
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidArgument types on shape mismatches
            raise ConfigError(
                f"{shown}: the exported graph fails on a {batch}x3x{height}x{width} input ({exc}); this model's graph "
                "does not generalise to other sizes"
            ) from exc
        tolerance = TOLERANCE * max(1.0, float(np.abs(expected).max()))
        if got.shape != expected.shape:
            raise ConfigError(
                f"{shown}: the exported graph gives shape {got.shape} for a {batch}x3x{height}x{width} input, "
                f"PyTorch {expected.shape}; this model's graph does not generalise to other sizes"
            )
        difference = float(np.abs(got - expected).max())
        if not difference <= tolerance:
            raise ConfigError(
                f"{shown}: the exported graph differs from PyTorch by {difference:.3g} (> {tolerance:.3g}) at "
                f"{batch}x3x{height}x{width}; this model's graph does not generalise to other sizes"
            )
        records.append(
            {"batch": batch, "height": height, "width": width, "max_abs_diff": difference, "tolerance": tolerance}
        )
    return records


def export_checkpoint(
    checkpoint: str | os.PathLike, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET, check: bool = True
) -> dict:
    """Export the model of an ``hsinr`` checkpoint to ONNX (see :func:`export_onnx`), with its metadata.

    Returns the record of :func:`export_onnx` plus ``"model"`` (registry name) and ``"bands"``.
    """
    from .checkpoint import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    keys = tuple(getattr(model, "input_keys", ("rgb",)))
    if keys != ("rgb",):
        raise ConfigError(
            f"{checkpoint}: model {meta['spec']['name']!r} takes {keys}; ONNX export supports RGB→HSI models only"
        )
    metadata = {
        "hsinr_spec": meta["spec"],
        "wavelengths": meta.get("wavelengths"),
        "srf": meta.get("srf"),
        "response": meta.get("response"),
        "input": meta.get("input", "linear RGB in [0, 1]"),
        "hsinr_version": __version__,
    }
    record = export_onnx(model, path, opset=opset, metadata=metadata, check=check)
    wavelengths = meta.get("wavelengths")
    record.update(model=meta["spec"]["name"], bands=len(wavelengths) if wavelengths is not None else None)
    return record


def onnx_metadata(path: str | os.PathLike) -> dict:
    """The ``metadata_props`` of an ONNX file, JSON-decoded (``{}`` when there are none)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {prop.key: json.loads(prop.value) for prop in proto.metadata_props}


def _write_metadata(path: str | os.PathLike, metadata: dict) -> None:
    import onnx

    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(proto, str(path))
