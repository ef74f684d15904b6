"""hsinr: hyperspectral image reconstruction with implicit neural representations.

Python API (the CLI ``hsinr`` wraps the same functions)::

    import hsinr
    cube = hsinr.reconstruct(rgb, "runs/demo/best.pt")   # (H, W, 3) in [0, 1] -> (H, W, 31)
"""

__version__ = "0.1.0"


def reconstruct(rgb, model, **options):
    """RGB ``(H, W, 3)`` float in [0, 1] → cube ``(H, W, C)`` with a model or a checkpoint path (tiled, any size).

    ``options`` go to :func:`hsinr.infer.reconstruct` (``tile``, ``writer``, ``progress``).
    """
    import numpy as np

    from .infer import reconstruct as _reconstruct

    if not hasattr(model, "forward"):
        from .checkpoint import load_checkpoint

        model, _ = load_checkpoint(model)
    return _reconstruct(np.asarray(rgb, dtype=np.float32), model, **options)


def fuse(lr_hsi, hr_msi, model, **options):
    """LR-HSI ``(h, w, C)`` + HR-MSI ``(H, W, M)`` → HR-HSI ``(H, W, C)`` (INF³, tiled); see :func:`hsinr.fusion.fuse`."""
    from .fusion import fuse as _fuse

    if not hasattr(model, "forward"):
        from .checkpoint import load_checkpoint

        model, _ = load_checkpoint(model)
    return _fuse(lr_hsi, hr_msi, model, **options)
