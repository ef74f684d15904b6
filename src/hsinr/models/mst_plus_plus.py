"""MST++: multi-stage spectral-wise transformer for spectral reconstruction from RGB.

Reference: Y. Cai, J. Lin, Z. Lin, H. Wang, Y. Zhang, H. Pfister, R. Timofte, L. Van Gool, "MST++: Multi-stage
Spectral-wise Transformer for Efficient Spectral Reconstruction", CVPR Workshops (NTIRE) 2022. Winner of NTIRE 2022;
about 1.62 M parameters in its paper.

Structure (as described in the paper):

- A 3×3 convolution lifts RGB to ``width`` channels; ``stages`` single-stage spectral transformers (SST) follow in
  series; a 3×3 convolution maps back to ``out_bands`` and a global residual adds the lifted input (this needs
  ``out_bands == width``, the paper's 31 → 31).
- One SST is a U-shaped encoder–decoder. Encoder level ``i`` (``levels`` of them, widths ``C, 2C, 4C``) is a
  spectral-wise attention block (SAB) followed by a 4×4 stride-2 convolution that halves the resolution and doubles
  the channels; a bottleneck SAB; each decoder level upsamples with a 2×2 stride-2 transposed convolution, concatenates
  the encoder feature, fuses with a 1×1 convolution and applies an SAB. A residual adds the SST input to its output.
- An SAB is ``x + S-MSA(x)`` then ``x + FFN(LayerNorm(x))``. The FFN is 1×1 conv (×4 channels) → GELU → 3×3
  depth-wise conv → GELU → 1×1 conv, all without bias.
- S-MSA (spectral-wise multi-head self-attention) treats each *channel* as a token: with ``X ∈ R^{HW×C}`` split into
  heads of ``d = C / heads`` channels, ``Q, K, V = X W_q, X W_k, X W_v``; per head
  ``A = softmax(σ · K̂ᵀ Q̂)`` with ``K̂, Q̂`` L2-normalised along the pixel axis and ``σ`` a learned per-head scale
  (``A`` is ``d × d``: cost linear in the number of pixels); ``out = V A`` projected by a linear layer, plus a
  position embedding computed from ``V`` by two 3×3 depth-wise convolutions with a GELU between them.
  The head size is ``width`` (so level ``i`` has ``2**i`` heads).

Inputs of any size: the image is reflection-padded at the bottom/right to a multiple of ``2**levels`` (4) and the
output cropped back.
With the defaults (width 31, 3 stages, 2 down-samplings per SST, one SAB per level) the model has 1,619,625
parameters, within 0.1 % of the paper's 1.62 M.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..complexity import MatMul
from ..errors import ConfigError
from ._padding import crop_to, pad_to_multiple
from .registry import register


class SpectralMSA(nn.Module):
    """Spectral-wise multi-head self-attention (S-MSA) on a ``(N, H, W, C)`` feature map; returns the same shape."""

    def __init__(self, channels: int, head_channels: int, heads: int) -> None:
        super().__init__()
        inner = head_channels * heads
        self.heads = heads
        self.to_q = nn.Linear(channels, inner, bias=False)
        self.to_k = nn.Linear(channels, inner, bias=False)
        self.to_v = nn.Linear(channels, inner, bias=False)
        self.scale = nn.Parameter(torch.ones(heads, 1, 1))
        self.project = nn.Linear(inner, channels, bias=True)
        self.position = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False, groups=channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False, groups=channels),
        )
        self.key_query = MatMul()
        self.attend = MatMul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        tokens = x.reshape(n, h * w, c)
        q, k, v = self.to_q(tokens), self.to_k(tokens), self.to_v(tokens)

        def heads_first(t: torch.Tensor) -> torch.Tensor:  # (N, HW, heads·d) -> (N, heads, d, HW)
            return t.reshape(n, h * w, self.heads, -1).permute(0, 2, 3, 1)

        q, k, v_heads = heads_first(q), heads_first(k), heads_first(v)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attention = self.key_query(k, q.transpose(-2, -1)) * self.scale  # (N, heads, d, d)
        attention = attention.softmax(dim=-1)
        mixed = self.attend(attention, v_heads)  # (N, heads, d, HW)
        mixed = mixed.permute(0, 3, 1, 2).reshape(n, h * w, -1)
        out = self.project(mixed).reshape(n, h, w, c)
        position = self.position(v.reshape(n, h, w, c).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return out + position


class FeedForward(nn.Module):
    """1×1 conv (×``mult``) → GELU → 3×3 depth-wise conv → GELU → 1×1 conv, on ``(N, H, W, C)``."""

    def __init__(self, channels: int, mult: int = 4) -> None:
        super().__init__()
        hidden = channels * mult
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=1, bias=False, groups=hidden),
            nn.GELU(),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class SpectralAttentionBlock(nn.Module):
    """SAB: ``blocks`` repetitions of ``x + S-MSA(x); x + FFN(LayerNorm(x))`` on ``(N, C, H, W)``."""

    def __init__(self, channels: int, head_channels: int, heads: int, blocks: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([SpectralMSA(channels, head_channels, heads), nn.LayerNorm(channels), FeedForward(channels)])
            for _ in range(blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        for attention, norm, feed_forward in self.layers:
            x = attention(x) + x
            x = feed_forward(norm(x)) + x
        return x.permute(0, 3, 1, 2)


class SingleStageTransformer(nn.Module):
    """SST: a U-shaped spectral transformer with ``levels`` down-samplings; ``(N, C, H, W) → (N, C, H, W)``."""

    def __init__(self, channels: int, levels: int = 2, blocks: tuple[int, ...] = (1, 1, 1)) -> None:
        super().__init__()
        if len(blocks) != levels + 1:
            raise ValueError(f"blocks needs {levels + 1} entries (one per level and the bottleneck), got {blocks}")
        self.embed = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.encoder = nn.ModuleList()
        width = channels
        for level in range(levels):
            self.encoder.append(
                nn.ModuleList(
                    [
                        SpectralAttentionBlock(width, channels, width // channels, blocks[level]),
                        nn.Conv2d(width, width * 2, 4, stride=2, padding=1, bias=False),
                    ]
                )
            )
            width *= 2
        self.bottleneck = SpectralAttentionBlock(width, channels, width // channels, blocks[-1])
        self.decoder = nn.ModuleList()
        for level in reversed(range(levels)):
            self.decoder.append(
                nn.ModuleList(
                    [
                        nn.ConvTranspose2d(width, width // 2, 2, stride=2),
                        nn.Conv2d(width, width // 2, 1, bias=False),
                        SpectralAttentionBlock(width // 2, channels, (width // 2) // channels, blocks[level]),
                    ]
                )
            )
            width //= 2
        self.mapping = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.embed(x)
        skips = []
        for attention, downsample in self.encoder:
            feature = attention(feature)
            skips.append(feature)
            feature = downsample(feature)
        feature = self.bottleneck(feature)
        for (upsample, fuse, attention), skip in zip(self.decoder, reversed(skips), strict=True):
            feature = upsample(feature)
            feature = attention(fuse(torch.cat([feature, skip], dim=1)))
        return self.mapping(feature) + x


@register("mst_plus_plus")
class MSTPlusPlus(nn.Module):
    """MST++ (Cai et al., CVPRW 2022): RGB ``(N, 3, H, W)`` → cube ``(N, out_bands, H, W)``, any ``H, W``.

    Args:
        out_bands: number of output bands (default 31); must equal ``width`` (the global residual adds the lifted
            input to the output, as in the paper).
        width: feature channels of the first level and head size of S-MSA (paper: 31).
        stages: number of SSTs in series (paper: 3).
        levels: down-samplings inside each SST (paper: 2).
    """

    input_keys = ("rgb",)

    def __init__(self, out_bands: int = 31, width: int = 31, stages: int = 3, levels: int = 2) -> None:
        super().__init__()
        if out_bands != width:
            raise ConfigError(f"MST++ needs out_bands == width (global residual), got {out_bands} and {width}")
        self.levels = levels
        self.lift = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.body = nn.Sequential(
            *[SingleStageTransformer(width, levels, tuple([1] * (levels + 1))) for _ in range(stages)]
        )
        self.to_bands = nn.Conv2d(width, out_bands, 3, padding=1, bias=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        height, width = rgb.shape[-2:]
        x = pad_to_multiple(rgb, 2**self.levels)
        lifted = self.lift(x)
        out = self.to_bands(self.body(lifted)) + lifted
        return crop_to(out, height, width)
