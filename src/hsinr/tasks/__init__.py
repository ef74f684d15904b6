"""Tasks: one module per problem (spectral super-resolution, fusion, synthesis), all of the shape of :class:`Task`."""

from .base import (
    EvalCase,
    Task,
    config_wavelengths,
    make_task,
    mean_metrics,
    model_input_keys,
    prepare_data_root,
    register_task,
    resolve_split,
    rgb_statistics,
)

__all__ = [
    "EvalCase",
    "Task",
    "config_wavelengths",
    "make_task",
    "mean_metrics",
    "model_input_keys",
    "prepare_data_root",
    "register_task",
    "resolve_split",
    "rgb_statistics",
]
