"""A small random-weight encoder with EAT's interface (tests and offline smoke runs).

EAT's model code is hosted on the Hugging Face hub and loaded with ``trust_remote_code``, so it
cannot be built without network access or a local copy. :class:`EATStandIn` implements the one
method the package calls, ``extract_features(mel) -> [B, 1 + P, D]`` (CLS token first), so the
real fbank preprocessing and the real extraction/caching loop can be tested offline.
"""

from __future__ import annotations

import torch
from torch import nn


class EATStandIn(nn.Module):
    """Stand-in for EAT: patch embedding, CLS token, transformer blocks, final norm.

    ``extract_features(mel)`` maps ``[B, 1, T, F]`` to ``[B, 1 + (T/16)·(F/16), embed_dim]``: a
    16×16/16 patch embedding (as EAT's CNN encoder), learned position embeddings, a CLS token,
    ``depth`` pre-norm transformer blocks and a final LayerNorm. It is *not* EAT: features from
    it are cached under the weights descriptor ``custom:EATStandIn``, never under EAT's id.

    Parameters
    ----------
    embed_dim : int
        Token dimension (768, as EAT-base, so the backbone's output dimension matches).
    depth, num_heads : int
        Transformer blocks and attention heads.
    target_frames, num_mel_bins : int
        Expected input size (1024 × 128); both must be multiples of 16.
    seed : int
        Seed of the random initialisation (a private ``torch.Generator``; no global RNG).
    """

    def __init__(
        self,
        embed_dim: int = 768,
        depth: int = 1,
        num_heads: int = 8,
        target_frames: int = 1024,
        num_mel_bins: int = 128,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if target_frames % 16 or num_mel_bins % 16:
            raise ValueError("target_frames and num_mel_bins must be multiples of 16")
        n_patches = (target_frames // 16) * (num_mel_bins // 16)
        self.patch_embed = nn.Conv2d(1, embed_dim, kernel_size=16, stride=16)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_patches, embed_dim))
        layer = nn.TransformerEncoderLayer(
            embed_dim, num_heads, dim_feedforward=2 * embed_dim, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for p in self.parameters():
                if p.ndim > 1:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
            self.cls_token.copy_(torch.randn(self.cls_token.shape, generator=gen) * 0.02)

    def extract_features(self, mel: torch.Tensor) -> torch.Tensor:
        """Token sequence ``[B, 1 + P, D]`` (CLS first) of a normalised fbank batch ``[B, 1, T, F]``."""
        x = self.patch_embed(mel).flatten(2).transpose(1, 2) + self.pos_embed
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.norm(self.blocks(x))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.extract_features(mel)
