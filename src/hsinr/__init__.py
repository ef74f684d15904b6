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


def reconstruct(rgb, model=None, *, input="linear", keep_exposure=False, **options):
    """RGB ``(H, W, 3)`` float in [0, 1] → cube ``(H, W, C)`` (tiled, any size).

    ``model`` is an ``nn.Module``, a pretrained name or a checkpoint path (``None``: the default pretrained model).
    ``input`` says how ``rgb`` is encoded: ``"linear"`` or ``"srgb"`` (decoded first). A name or path brings the
    checkpoint's training exposure level (white level, or mean level for older checkpoints), and the image is scaled
    to it and the cube scaled back (a photo twice as bright gives a cube twice as bright) unless ``keep_exposure``;
    see :mod:`hsinr.spectral.encoding`.
    ``options`` go to :func:`hsinr.infer.reconstruct` (``tile``, ``writer``, ``progress``).
    """
    from functools import partial

    from .infer import reconstruct as _reconstruct
    from .spectral.encoding import decode_rgb, reconstruct_at_exposure, reference_level

    meta = {}
    if not hasattr(model, "forward"):
        model, meta = load_model(model)
    reference = None if keep_exposure else reference_level(meta)
    writer = options.pop("writer", None)
    cube, _ = reconstruct_at_exposure(
        decode_rgb(rgb, input), partial(_reconstruct, model=model, **options), reference, writer=writer
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
