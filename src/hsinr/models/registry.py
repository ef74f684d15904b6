"""A tiny model registry: ``register(name)`` on a builder, ``make(spec)`` to build.

A *spec* is ``{"name": str, "args": dict}``; checkpoints store the same spec so that loading a model never needs the
configuration file that made it.
"""

from __future__ import annotations

import difflib
import inspect
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


def check_spec(spec: dict) -> None:
    """Refuse, before anything is built or written, a spec whose model is unknown or whose ``args`` name an argument
    its builder does not take (with the closest name it does take); nested specs (an argument that is itself a
    ``{"name": ..., "args": ...}`` of a registered model, e.g. ``prior_residual``'s ``residual``) are checked too.
    Missing arguments are not errors here: tasks complete specs (bands, camera response) before building.

    Raises:
        ConfigError: naming the model and the argument.
    """
    name = str(spec.get("name"))
    taken = inspect.signature(builder(name)).parameters
    args = spec.get("args") or {}
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in taken.values()):
        for key in args:
            if key not in taken:
                close = difflib.get_close_matches(str(key), list(taken), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(f"model {name!r}: unknown argument {key!r}; {hint}it takes {', '.join(taken)}")
    for value in args.values():
        if isinstance(value, dict) and value.get("name") in available():
            check_spec(value)


def _import_all() -> None:
    """Import every model module so that their ``@register`` decorators run."""
    import importlib
    import pkgutil

    from .. import models

    for info in pkgutil.iter_modules(models.__path__):
        if info.name != "registry":
            importlib.import_module(f"{models.__name__}.{info.name}")
