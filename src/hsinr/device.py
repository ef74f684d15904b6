"""Where computation runs: choosing a torch device, and finding the device and dtype a model lives on."""

from __future__ import annotations

import os

import torch
import torch.nn as nn

from .errors import ConfigError


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """The torch device for ``name``.

    ``"auto"`` is the CUDA device when one is available, else the CPU. Under ``torchrun`` (``LOCAL_RANK`` set),
    ``"auto"`` and a bare ``"cuda"`` mean this process's GPU, ``cuda:<LOCAL_RANK>``. Anything else (``"cpu"``,
    ``"cuda:1"``, ``"mps"``) is passed to :class:`torch.device`.

    Raises:
        ConfigError: ``name`` is not a device torch knows.
    """
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        name = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from exc


def availability_problem(device: torch.device) -> str | None:
    """Why ``device`` cannot be used on this machine (no CUDA GPU, no such GPU index, no Apple MPS), else ``None``."""
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "no CUDA GPU is available on this machine"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return f"this machine has {torch.cuda.device_count()} CUDA GPU(s)"
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        return "Apple MPS is not available on this machine"
    return None


def _first_tensor(model: nn.Module) -> torch.Tensor | None:
    """The first parameter, else the first buffer (closed-form maps keep their coefficients as buffers)."""
    parameter = next(iter(model.parameters()), None)
    return parameter if parameter is not None else next(iter(model.buffers()), None)


def device_of(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (or buffer); the CPU for a model that holds no tensor."""
    tensor = _first_tensor(model)
    return tensor.device if tensor is not None else torch.device("cpu")


def dtype_of(model: nn.Module) -> torch.dtype:
    """The floating dtype of a model's first parameter (or buffer); ``float32`` for a model that holds none."""
    tensor = _first_tensor(model)
    return tensor.dtype if tensor is not None and tensor.is_floating_point() else torch.float32
