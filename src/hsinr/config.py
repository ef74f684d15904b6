"""Experiment configuration: YAML files merged over defaults, plus ``key.sub=value`` overrides from the CLI, checked
against a schema.

Every key is documented in ``configs/README.md``. The resolved configuration is written into the run folder, so that
a run can always be repeated.

**Strict.** :func:`validate_config` checks the resolved configuration against :data:`SCHEMA` (small declarative
types below): an unknown key (``modle:``, ``train.batch_sise``), a wrong type (``train.epochs: three``) or an
out-of-range value (``train.batch_size: 0``) is a one-line :class:`~hsinr.errors.ConfigError` naming the key and
what it expects — a typo never silently trains the default model. Free-form sections are checked by their owners:
``model.args`` by the model builder, ``evaluate`` and the per-method settings of ``methods`` by the benchmark,
``data.prior`` by the prior. A task or plug-in adds its own keys with :func:`extend_schema`.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

DEFAULTS: dict = {
    "name": "experiment",
    "seed": 0,
    "task": "spectral_sr",
    "model": {"name": "inr_hsisr", "args": {}},
    "data": {
        "kind": "folder",  # cave | arad | icvl | harvard | nus | folder | synthetic
        "root": None,
        "response": "cie1964_xyz",  # builtin name, or a file (e.g. nikon_d700_cave.mat); "path:key" for camspec
        "wavelengths": {"start": 400, "stop": 700, "count": 31},
        "split": {"ratios": [0.6, 0.2, 0.2], "seed": 0},  # or explicit lists {"train": [...], "val": [...], …}
        "patch_size": 64,
        "patches_per_epoch": 1000,
        "augment": True,
        "synthetic": {"count": 20, "size": 128, "seed": 0, "kind": "natural"},
    },
    "train": {
        "epochs": 1000,
        "batch_size": 8,
        "lr": 1.0e-4,
        "lr_step": 200,  # epochs between learning-rate decays
        "lr_gamma": 0.1,
        "loss": "l1",
        "device": "auto",
        "max_minutes": None,  # wall-clock budget; checked at the end of each epoch
        "val_every": 1,
        "save_every": 1,  # epochs between writes of last.pt (always written at the end)
        "val_tile": 512,
        "threads": None,
        "steps": None,  # budget in optimiser steps (wins over epochs when set)
        "schedule": "step",  # step | cosine | constant
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "ema": None,  # decay of an exponential moving average of the weights (e.g. 0.999); None = off
        "amp": "off",  # off | bf16 | fp16
        "compile": False,
        "early_stop": None,  # validations without improvement before stopping (null/0: never)
        "init_from": None,  # checkpoint whose weights start the run (same model spec), e.g. pre-trained on synthetic
    },
}


# ---------------------------------------------------------------------------------------------------- the schema


class _Type:
    """One expected value: :meth:`check` raises a one-line ConfigError naming ``key`` and what is expected."""

    expects = "a value"

    def accepts(self, value: Any) -> bool:
        return True

    def check(self, value: Any, key: str) -> None:
        if not self.accepts(value):
            raise ConfigError(f"{key}: expected {self.expects}, got {_shown(value)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


@dataclass(frozen=True)
class Int(_Type):
    """An integer ≥ ``low`` (``null`` allowed with ``null=True``)."""

    low: int | None = None
    null: bool = False

    @property
    def expects(self) -> str:
        text = "an integer" + (f" >= {self.low}" if self.low is not None else "")
        return text + (" or null" if self.null else "")

    def accepts(self, value):
        if value is None:
            return self.null
        return _is_int(value) and (self.low is None or value >= self.low)


@dataclass(frozen=True)
class Float(_Type):
    """A finite number (integers accepted) in ``[low, high]``, or ``(low, …`` with ``above=True``."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    null: bool = False

    @property
    def expects(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.above else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        return "a number" + (" " + " and ".join(parts) if parts else "") + (" or null" if self.null else "")

    def accepts(self, value):
        if value is None:
            return self.null
        if not _is_number(value):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high


@dataclass(frozen=True)
class Bool(_Type):
    expects = "true or false"

    def accepts(self, value):
        return isinstance(value, bool)


@dataclass(frozen=True)
class Str(_Type):
    """A string (non-empty with ``empty=False``), one of ``choices`` when given."""

    choices: tuple[str, ...] = ()
    empty: bool = False
    null: bool = False

    @property
    def expects(self) -> str:
        text = "one of " + ", ".join(repr(c) for c in self.choices) if self.choices else "a non-empty string"
        return text + (" or null" if self.null else "")

    def accepts(self, value):
        if value is None:
            return self.null
        if not isinstance(value, str) or (not value.strip() and not self.empty):
            return False
        return not self.choices or value in self.choices


@dataclass(frozen=True)
class ListOf(_Type):
    """A list of ``item`` values (length ``length`` when given)."""

    item: _Type = field(default_factory=_Type)
    length: int | None = None
    null: bool = False

    @property
    def expects(self) -> str:
        size = f"{self.length} " if self.length else ""
        return f"a list of {size}values, each {self.item.expects}" + (" or null" if self.null else "")

    def check(self, value, key):
        if value is None and self.null:
            return
        if not isinstance(value, (list, tuple)) or (self.length is not None and len(value) != self.length):
            raise ConfigError(f"{key}: expected {self.expects}, got {_shown(value)}")
        for index, item in enumerate(value):
            self.item.check(item, f"{key}[{index}]")


@dataclass(frozen=True)
class Free(_Type):
    """A mapping whose keys are checked elsewhere (``model.args``: the model builder)."""

    null: bool = False
    expects = "a mapping"

    def accepts(self, value):
        return isinstance(value, dict) or (value is None and self.null)


@dataclass(frozen=True)
class Section(_Type):
    """A mapping with known keys: an unknown key is an error that lists the known ones."""

    keys: dict = field(default_factory=dict)
    null: bool = False
    expects = "a mapping"

    def check(self, value, key):
        if value is None and self.null:
            return
        if not isinstance(value, dict):
            raise ConfigError(f"{key or 'the configuration'}: expected a mapping (section), got {_shown(value)}")
        for name, item in value.items():
            where = f"{key}.{name}" if key else str(name)
            if name not in self.keys:
                close = difflib.get_close_matches(str(name), list(self.keys), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"{where}: unknown key; {hint}{key or 'the top level'} takes {', '.join(sorted(self.keys))}"
                )
            self.keys[name].check(item, where)


@dataclass(frozen=True)
class AnyOf(_Type):
    """The first alternative that fits; the error names them all."""

    options: tuple = ()

    @property
    def expects(self) -> str:
        return " or ".join(option.expects for option in self.options)

    def check(self, value, key):
        errors = []
        for option in self.options:
            try:
                option.check(value, key)
                return
            except ConfigError as exc:
                errors.append(str(exc))
        shaped = [
            o
            for o in self.options
            if (isinstance(o, Section) and isinstance(value, dict))
            or (isinstance(o, ListOf) and isinstance(value, list))
        ]
        if len(shaped) == 1:  # a mapping given where a mapping is one option: its own, more precise message
            shaped[0].check(value, key)
        raise ConfigError(f"{key}: expected {self.expects}, got {_shown(value)}")


@dataclass(frozen=True)
class ExposureRange(_Type):
    """``[lo, hi]`` with ``0 < lo <= hi``."""

    expects = "a [lo, hi] pair of positive numbers with lo <= hi"

    def accepts(self, value):
        return (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(_is_number(v) and v > 0 for v in value)
            and value[0] <= value[1]
        )


@dataclass(frozen=True)
class Methods(_Type):
    """A benchmark's methods: a non-empty list of mappings, each with ``model: {name, args}``; ``label``, ``train``
    and ``data`` are merged over the base configuration by the benchmark."""

    expects = "a list of methods, each a mapping with model: {name: ..., args: {...}}"

    def check(self, value, key):
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{key}: expected {self.expects}, got {_shown(value)}")
        for index, method in enumerate(value):
            where = f"{key}[{index}]"
            Section({"label": Str(), "model": MODEL, "train": Free(null=True), "data": Free(null=True)}).check(
                method, where
            )
            if "model" not in method:
                raise ConfigError(f"{where}: a method needs model: {{name: ..., args: {{...}}}}")


MODEL = Section({"name": Str(), "args": Free(null=True)})
SPLIT = Section(
    {
        "ratios": ListOf(Float(low=0), length=3),
        "seed": Int(low=0),
        "train": ListOf(Str(), null=True),
        "val": ListOf(Str(), null=True),
        "test": ListOf(Str(), null=True),
    }
)
AUGMENT = AnyOf(
    (
        Bool(),
        Section(
            {
                "dihedral": Bool(),
                "relight": Float(low=0),
                "exposure": ExposureRange(),
                "density": ExposureRange(),
                "mix": Float(low=0, high=1),
            }
        ),
    )
)
NAMES = ListOf(Str(), null=True)

SCHEMA = Section(
    {
        "name": Str(),
        "seed": Int(low=0),
        "task": Str(),  # the task registry names the known tasks
        "model": MODEL,
        "data": Section(
            {
                "kind": Str(),  # the dataset registry names the known kinds
                "root": Str(null=True),
                "response": Str(null=True),
                "wavelengths": AnyOf(
                    (
                        Section({"start": Float(low=0), "stop": Float(low=0), "count": Int(low=1)}),
                        ListOf(Float(low=0, above=True)),
                    )
                ),
                "split": SPLIT,
                "patch_size": Int(low=1),
                "patches_per_epoch": Int(low=1),
                "augment": AUGMENT,
                "synthetic": Section({"count": Int(low=1), "size": Int(low=1), "seed": Int(low=0), "kind": Str()}),
                "scenes": NAMES,
                "extra_train": Section(  # scenes added to the training subset only (spectral_sr)
                    {
                        "kind": Str(),
                        "root": Str(null=True),
                        "synthetic": Section(
                            {"count": Int(low=1), "size": Int(low=1), "seed": Int(low=0), "kind": Str()}
                        ),
                    },
                    null=True,
                ),
                "exclude": NAMES,
                "prior": Free(null=True),
                "camera_encoding": Str(choices=("linear", "srgb8")),  # how the training RGB is stored (spectral_sr)
                # fusion
                "scale": Int(low=1),
                "regions": Section(
                    {"axis": Str(choices=("columns", "rows")), "fraction": Float(low=0, high=1, above=True)}, null=True
                ),
                # synthesis (INSS) and remote-sensing cubes
                "loader": Str(null=True),
                "rgb_wavelengths": ListOf(Float(low=0, above=True), length=3, null=True),
                "train_fraction": Float(low=0, high=1, above=True),
                "val_fraction": Float(low=0, high=1, above=True),
                "library": Section(
                    {"classes": NAMES, "count": Int(low=1), "seed": Int(low=0), "shade": Bool(), "source": Str()},
                    null=True,
                ),
            }
        ),
        "train": Section(
            {
                "epochs": Int(low=1),
                "steps": Int(low=1, null=True),
                "batch_size": Int(low=1),
                "lr": Float(low=0, above=True),
                "lr_step": Int(low=1),
                "lr_gamma": Float(low=0, above=True),
                "schedule": Str(choices=("step", "cosine", "constant")),
                "warmup_steps": Int(low=0),
                "weight_decay": Float(low=0),
                "loss": Str(),  # the loss registry parses "l1", "mse", "l1+sam", …
                "amp": Str(choices=("off", "bf16", "fp16")),
                "compile": Bool(),
                "early_stop": Int(low=0, null=True),
                "device": Str(),  # checked when the device is opened
                "max_minutes": Float(low=0, above=True, null=True),
                "val_every": Int(low=1),
                "save_every": Int(low=1),
                "val_tile": Int(low=1),
                "threads": Int(low=1, null=True),
                "init_from": Str(null=True),
                "ema": Float(low=0, high=1, above=True, null=True),
            }
        ),
        "inss": Section(
            {
                "lambda_cos": Float(low=0),
                "lambda_hsv": Float(low=0),
                "lambda_reg": Float(low=0),
                "lambda_adv": Float(low=0),
                "band_weighted": Bool(),
                "d_every": Int(low=1),
                "d_lr": Float(low=0, above=True),
                "spectra_per_batch": Int(low=1),
                "seed": Int(low=0),
            }
        ),
        "anchors": _Type(),  # YAML anchors (&name) defined once and reused below; ignored by the code
        # benchmark configurations
        "methods": Methods(),
        "folds": ListOf(SPLIT, null=True),
        "seeds": ListOf(Int(low=0), null=True),
        "evaluate": Free(null=True),
    }
)
"""Every key a configuration may hold, with its type and range (see :func:`validate_config`)."""


def extend_schema(section: str, key: str, expected: _Type) -> None:
    """Let a task or plug-in accept ``section.key`` (``section`` = ``""`` for the top level), e.g.
    ``extend_schema("data", "bands", Int(low=1))``."""
    node = SCHEMA
    for part in filter(None, section.split(".")):
        node = node.keys[part]
        if not isinstance(node, Section):
            raise TypeError(f"{section} is not a section of the configuration schema")
    node.keys[key] = expected


def validate_config(config: dict) -> dict:
    """Check a resolved configuration against :data:`SCHEMA`; returns it unchanged.

    Raises:
        ConfigError: one line naming the first unknown key, wrong type or out-of-range value and what it expects.
    """
    SCHEMA.check(config, "")
    return config


class _Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 numbers: ``1e-4`` is a float (YAML 1.1 reads it as the string "1e-4")."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str):
    """Parse YAML safely (no Python objects), reading ``1e-4`` as a number."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def deep_merge(base: dict, update: dict) -> dict:
    """A copy of ``base`` with ``update`` merged in recursively (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> dict:
    """Defaults ← YAML file ← ``overrides`` (``["train.epochs=5", "model.args.cell_size=8"]``, YAML values)."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            loaded = parse_yaml(path.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
            reason = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"{path}: invalid YAML{at}: {reason}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        config = deep_merge(config, loaded)
        split = (loaded.get("data") or {}).get("split") if isinstance(loaded.get("data"), dict) else None
        if isinstance(split, dict) and any(key in split for key in ("train", "val", "test")):
            config["data"]["split"] = copy.deepcopy(split)  # explicit lists: the default ratios and seed do not apply
    for item in overrides or []:
        set_dotted(config, item)
    return validate_config(config)


def set_dotted(config: dict, assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as YAML (``5``, ``1e-4``, ``[1,2]``,
    ``null``)."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} is not of the form key.sub=value")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(part.strip() for part in parts):
        raise ConfigError(f"override {assignment!r}: the key must be a dotted name such as train.epochs")
    try:
        value = parse_yaml(raw)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"override {assignment!r}: not a YAML value ({first})") from None
    node = config
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {assignment!r}: {part!r} is not a section")
    node[parts[-1]] = value


def save_config(config: dict, path: str | Path) -> None:
    """Write the resolved configuration as YAML."""
    from .io.atomic import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(config, sort_keys=False))
