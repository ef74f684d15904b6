"""hsinr: hyperspectral image reconstruction with implicit neural representations.

Python API (the CLI ``hsinr`` wraps the same functions)::

    import hsinr
    cube = hsinr.reconstruct(rgb, "runs/demo/best.pt")   # (H, W, 3) in [0, 1] -> (H, W, 31)
    model, meta = hsinr.load_model("srgb")                # a shipped weight by name (hsinr models lists them)
"""

__version__ = "0.1.0"


def load_model(name_or_path=None, device="cpu"):
    """``(model, meta)`` from a pretrained name (``"srgb"``, ``"cie1964"``, ``"nikon_d700_cave"``; ``None`` = the
    default) or a checkpoint path; see :func:`hsinr.pretrained.load_model` (the SHA-256 of shipped files is checked)."""
    from .pretrained import load_model as _load_model

    return _load_model(name_or_path, device)


def reconstruct(rgb, model=None, *, input="auto", keep_exposure=False, **options):
    """RGB ``(H, W, 3)`` → cube ``(H, W, C)`` (tiled, any size). Floats are taken on the [0, 1] scale; uint8 arrays
    are divided by 255 and uint16 arrays by 65535, as image files are (:func:`hsinr.io.rgb.unit_rgb`).

    ``model`` is an ``nn.Module``, a pretrained name or a checkpoint path (``None``: the default pretrained model).
    ``input`` says how ``rgb`` is encoded: ``"linear"``, ``"srgb"`` (decoded first) or ``"auto"``, as ``hsinr
    reconstruct --input`` decides for a file: sRGB for uint8 arrays (a photo), linear otherwise. A name or path
    brings the checkpoint's training exposure level (white level, or mean level for older checkpoints), and the
    image is scaled to it and the cube scaled back (a photo twice as bright gives a cube twice as bright) unless
    ``keep_exposure``; see :mod:`hsinr.spectral.encoding`.
    ``options`` go to :func:`hsinr.infer.reconstruct` (``tile``, ``writer``, ``progress``).
    """
    from functools import partial

    import numpy as np

    from .infer import reconstruct as _reconstruct
    from .io.rgb import unit_rgb
    from .spectral.encoding import decode_rgb, reconstruct_at_exposure, reference_level

    if input == "auto":
        input = "srgb" if np.asarray(rgb).dtype == np.uint8 else "linear"
    meta = {}
    if not hasattr(model, "forward"):
        model, meta = load_model(model)
    reference = None if keep_exposure else reference_level(meta)
    writer = options.pop("writer", None)
    cube, _ = reconstruct_at_exposure(
        decode_rgb(unit_rgb(rgb), input), partial(_reconstruct, model=model, **options), reference, writer=writer
    )
    return cube


def fuse(lr_hsi, hr_msi, model, **options):
    """LR-HSI ``(h, w, C)`` + HR-MSI ``(H, W, M)`` → HR-HSI ``(H, W, C)`` with a fusion model or a checkpoint path
    (tiled, any size); ``options`` go to :func:`hsinr.infer.fuse` (``tile``, ``overlap``, ``device``, ``writer``)."""
    from .infer import fuse as _fuse

    if not hasattr(model, "forward"):
        from .checkpoint import load_checkpoint

        model, _ = load_checkpoint(model)
    return _fuse(lr_hsi, hr_msi, model, **options)


def synthesize(rgb, model, **options):
    """RGB ``(H, W, 3)`` on the scale of the training bands → ``Synthesis(cube, abundances, t)`` with an INSS model or
    a checkpoint path (tiled, any size); ``options`` go to :func:`hsinr.infer.synthesize` (``tile``, ``overlap``)."""
    from .infer import synthesize as _synthesize

    if not hasattr(model, "forward"):
        from .checkpoint import load_checkpoint

        model, _ = load_checkpoint(model)
    return _synthesize(rgb, model, **options)
