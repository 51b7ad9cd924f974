"""The Transformer encoders: on image rows (``transformer``) and on token ids (``text_transformer``)."""
from __future__ import annotations

import torch
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention with its four projections as ``nn.Linear`` layers.

    ``query``, ``key``, ``value`` and ``output`` are ``Linear(width, width)``: unlike
    ``nn.MultiheadAttention``, whose input projection is a raw ``in_proj_weight`` parameter,
    every attention weight here is a prunable ``Linear.weight``. Input and output
    ``(B, tokens, width)``. The attention is written out (softmax(q kᵀ / √d) v), not fused,
    so second derivatives (GraSP's Hessian-gradient product) work on every device.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.heads = heads
        self.query, self.key, self.value, self.output = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape
        split = lambda y: y.view(b, t, self.heads, w // self.heads).transpose(1, 2)  # (B, heads, t, d)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        weights = torch.softmax(q @ k.transpose(-2, -1) / (w // self.heads) ** 0.5, dim=-1)
        return self.output((weights @ v).transpose(1, 2).reshape(b, t, w))


class EncoderBlock(nn.Module):
    """Pre-norm Transformer block: x + attention(LN(x)), then x + MLP(LN(x)) (MLP: width → 2·width → width, GELU)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class RowTransformer(nn.Module):
    """A small Transformer encoder that reads an image as the sequence of its rows.

    ``(B, C, H, W)`` → ``H`` tokens of ``C·W`` pixels → ``embed`` (Linear to ``width``) + a
    learned position embedding → ``depth`` pre-norm :class:`EncoderBlock` s → LayerNorm →
    mean over tokens → ``classifier``. Defaults (width 64, depth 2, 4 heads) give about 70k
    parameters on 28x28 images. Prunable: every ``Linear.weight`` (embedding, the four
    attention projections, the MLPs, the classifier); LayerNorms, biases and the position
    embedding are not (see docs/method.md).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 width: int = 64, depth: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Linear(in_channels * image_size, width)
        self.position = nn.Parameter(torch.zeros(1, image_size, width))
        self.blocks = nn.Sequential(*(EncoderBlock(width, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = x.permute(0, 2, 1, 3).reshape(b, h, c * w)  # one token per row, its channels side by side
        y = self.blocks(self.embed(tokens) + self.position)
        return self.classifier(self.norm(y).mean(dim=1))

    def reset_reference(self) -> None:
        """The Vision Transformer reference init (module docstring)."""
        _reset_transformer(self)


class TextTransformer(nn.Module):
    """The encoder of :class:`RowTransformer` on token ids: a text classifier.

    ``(B, sequence_length)`` int64 ids → ``embed`` (``nn.Embedding``, id 0 = padding, kept at
    zero) + a learned position embedding → ``depth`` :class:`EncoderBlock` s → LayerNorm →
    mean over the non-padding tokens → ``classifier``. Prunable: every ``Linear.weight``
    (attention projections, MLPs, classifier); the token embedding is a lookup table, not a
    connection between units, and stays dense like LayerNorms, biases and the position
    embedding (see docs/method.md). Padding tokens are not masked inside attention (a
    simplification: they carry only the position embedding).
    """

    def __init__(self, num_classes: int, vocab_size: int, sequence_length: int,
                 width: int = 64, depth: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        self.position = nn.Parameter(torch.zeros(1, sequence_length, width))
        self.blocks = nn.Sequential(*(EncoderBlock(width, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"expected int64 token ids (B, sequence_length); got {ids.dtype} {tuple(ids.shape)}")
        y = self.norm(self.blocks(self.embed(ids) + self.position))
        words = (ids != 0).unsqueeze(-1).to(y.dtype)  # (B, L, 1): 1 for a word, 0 for padding
        return self.classifier((y * words).sum(dim=1) / words.sum(dim=1).clamp(min=1))

    def reset_reference(self) -> None:
        """The Vision Transformer reference init; the token embedding like the Linear weights."""
        _reset_transformer(self)
        nn.init.trunc_normal_(self.embed.weight, std=0.02, a=-0.04, b=0.04)
        with torch.no_grad():
            self.embed.weight[0].zero_()  # the padding id


def _reset_transformer(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02, a=-0.04, b=0.04)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    nn.init.trunc_normal_(model.position, std=0.02, a=-0.04, b=0.04)
