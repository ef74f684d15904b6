"""Model size and cost: parameter counts and multiply-accumulates (MACs) per output pixel.

What is counted (one MAC = one multiplication followed by one addition; biases are not counted):

- ``nn.Conv2d``: ``output elements × (in_channels / groups) × kernel_h × kernel_w``.
- ``nn.ConvTranspose2d``: ``input elements × (out_channels / groups) × kernel_h × kernel_w`` (every input value is
  multiplied by a whole kernel).
- ``nn.Linear``: ``output elements × in_features``.
- :class:`MatMul` (a matrix product written as a module, used by attention layers so that it can be counted):
  ``batch × M × K × N`` for ``(…, M, K) @ (…, K, N)``.
- ``model.extra_macs(height, width)`` when the top-level model defines it: MACs of custom operations that are not
  modules (for example a per-pixel MLP evaluated with ``einsum``), for one image of ``height × width`` pixels.

Not counted: normalisation layers, activations, softmax, pooling, interpolation, additions of residuals and padding.
These are cheap next to the products above for every model in :mod:`hsinr.models`.

:func:`macs_per_pixel` runs one forward pass on a zero image of ``1 × 3 × height × width`` (inside the model the image
may be padded, and the padded pixels are counted) and divides the total by ``height × width``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .device import device_of, dtype_of
from .errors import ConfigError


class MatMul(nn.Module):
    """``a @ b`` as a module, so that :func:`macs_per_pixel` can count it with a forward hook."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (buffers excluded); ``trainable_only`` keeps ``requires_grad`` ones."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _conv_macs(module: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> int:
    kh, kw = module.kernel_size
    return output.numel() * (module.in_channels // module.groups) * kh * kw


def _conv_transpose_macs(module: nn.ConvTranspose2d, inputs: tuple, output: torch.Tensor) -> int:
    kh, kw = module.kernel_size
    return inputs[0].numel() * (module.out_channels // module.groups) * kh * kw


def _linear_macs(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> int:
    return output.numel() * module.in_features


def _matmul_macs(module: MatMul, inputs: tuple, output: torch.Tensor) -> int:
    inner = inputs[0].shape[-1]
    return output.numel() * inner


_COUNTERS = (
    (nn.ConvTranspose2d, _conv_transpose_macs),
    (nn.Conv2d, _conv_macs),
    (nn.Linear, _linear_macs),
    (MatMul, _matmul_macs),
)


def count_macs(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """Total MACs of one forward pass ``model(*inputs)`` (see the module docstring for what is counted).

    ``model.extra_macs(height, width)`` is added when defined, with ``height, width`` the last two dimensions of the
    first input, times its batch size.
    """
    total = 0

    def make_hook(counter):
        def hook(module, hook_inputs, output):
            nonlocal total
            total += int(counter(module, hook_inputs, output))

        return hook

    handles = []
    for module in model.modules():
        for kind, counter in _COUNTERS:
            if isinstance(module, kind):
                handles.append(module.register_forward_hook(make_hook(counter)))
                break
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    extra = getattr(model, "extra_macs", None)
    if callable(extra):
        batch, height, width = inputs[0].shape[0], inputs[0].shape[-2], inputs[0].shape[-1]
        total += batch * int(extra(height, width))
    return total


def macs_per_pixel(model: nn.Module, height: int = 64, width: int = 64) -> float:
    """MACs per output pixel of an RGB→HSI model for one ``height × width`` image.

    The model must take RGB (``model.input_keys == ("rgb",)``); it is run once on zeros of shape
    ``(1, 3, height, width)`` in evaluation mode (its training mode is restored afterwards).
    """
    keys = tuple(getattr(model, "input_keys", ("rgb",)))
    if keys != ("rgb",):
        raise ConfigError(f"macs_per_pixel needs an RGB model (input_keys ('rgb',)), this one takes {keys}")
    was_training = model.training
    model.eval()
    try:
        image = torch.zeros(1, 3, height, width, dtype=dtype_of(model), device=device_of(model))
        total = count_macs(model, (image,))
    finally:
        model.train(was_training)
    return total / float(height * width)
