"""A tiny model registry: ``register(name)`` on a builder, ``make(spec)`` to build.

A *spec* is ``{"name": str, "args": dict}``; checkpoints store the same spec so that loading a model never needs the
configuration file that made it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

from ..errors import ConfigError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: make ``builder(**args)`` available as ``make({"name": name, "args": args})``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} registered twice")
        _BUILDERS[name] = builder
        return builder

    return wrap


def available() -> list[str]:
    """Names of all registered models, sorted."""
    _import_all()
    return sorted(_BUILDERS)


def builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered under ``name`` (:class:`ConfigError` when unknown)."""
    _import_all()
    if name not in _BUILDERS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name]


def make(spec: dict) -> nn.Module:
    """Build a model from ``{"name": ..., "args": {...}}``; unknown names or arguments raise :class:`ConfigError`."""
    _import_all()
    name = spec.get("name")
    if name not in _BUILDERS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(_BUILDERS))}")
    try:
        return _BUILDERS[name](**(spec.get("args") or {}))
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: {exc}") from None


def _import_all() -> None:
    """Import every model module so that their ``@register`` decorators run."""
    import importlib
    import pkgutil

    from .. import models

    for info in pkgutil.iter_modules(models.__path__):
        if info.name != "registry":
            importlib.import_module(f"{models.__name__}.{info.name}")
