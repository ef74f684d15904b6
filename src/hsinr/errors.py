"""Exception types that are part of the public API.

Every error a *user* can cause (a missing file, an unreadable format, a cube with NaNs, a mismatch of sizes) is an
:class:`HsinrError`. The command line catches exactly these, prints their message on one line and exits with code 2;
anything else is a bug and keeps its traceback.
"""


class HsinrError(Exception):
    """Base class of every error caused by input the user gave us."""


class DataError(HsinrError):
    """A file or array cannot be used: missing, unknown format, wrong shape, NaN/Inf values, missing keys."""


class ConfigError(HsinrError):
    """A configuration, option or checkpoint is invalid or inconsistent."""


class TrainingError(HsinrError):
    """Training cannot continue (for example the loss became NaN or Inf)."""
