"""Models: one file per model, each a bare ``nn.Module`` registered under a name (see :mod:`.registry`)."""

from .registry import available, make, register

__all__ = ["available", "make", "register"]
