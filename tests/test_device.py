"""hsinr.device: one place that chooses a device and finds where a model lives."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from hsinr.device import device_of, dtype_of, pick_device
from hsinr.errors import ConfigError


def test_pick_device_auto_cpu_and_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert pick_device("cuda") == torch.device("cuda:3")  # torchrun: this process's GPU
    assert pick_device("cuda:1") == torch.device("cuda:1")  # an explicit index is kept
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda:3")


def test_pick_device_rejects_unknown_names():
    with pytest.raises(ConfigError, match="unknown device 'gpu0'"):
        pick_device("gpu0")


def test_device_and_dtype_of_parameters_buffers_and_empty_models():
    assert device_of(nn.Linear(2, 2)) == torch.device("cpu")
    assert dtype_of(nn.Linear(2, 2).double()) == torch.float64
    with_buffer = nn.Module()
    with_buffer.register_buffer("matrix", torch.zeros(3, 3, dtype=torch.float16))
    assert dtype_of(with_buffer) == torch.float16  # closed-form maps keep their coefficients as buffers
    assert device_of(nn.ReLU()) == torch.device("cpu") and dtype_of(nn.ReLU()) == torch.float32
