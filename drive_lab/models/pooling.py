"""``MaxPool2d``: PyTorch's 2x2 max-pool, computed faster on the CPU with bit-identical results.

On the CPU, PyTorch's max-pool kernel for the default (NCHW) memory layout is several times
slower than its channels-last kernel (measured on 2 cores: 0.66 ms against 0.13 ms for a
64x32x8x8 input, 16 ms against 5 ms for 128x32x28x28; ``benchmarks/bench_core.py`` times
the whole ``conv`` model). The small CNNs spend a large share of every training step there.

:class:`MaxPool2d` takes the channels-last kernel for the forward pass and hands the result
back in the NCHW layout, so the layers after it compute exactly as before. A maximum is
exact, and both kernels scan each window in the same order and keep the first maximum, so
the values and the positions they came from are the same; the backward pass is PyTorch's
own (``max_pool2d_with_indices_backward`` with those positions), so gradients, and the
second derivatives GraSP and ProsPr take through it, are bit-identical to ``nn.MaxPool2d``'s
(``tests/test_models.py`` checks all three). Anything else (CUDA, other kernel settings,
inputs already channels-last) is ``nn.MaxPool2d`` itself.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_FAST_DTYPES = (torch.float32, torch.float64)


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class _ChannelsLastMaxPool(torch.autograd.Function):
    """Non-overlapping max-pool (kernel = stride, no padding) of an NCHW CPU tensor."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: tuple[int, int]) -> torch.Tensor:
        out, positions = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel, return_indices=True)
        ctx.kernel = kernel
        ctx.save_for_backward(x, positions.contiguous())
        return out.contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, positions = ctx.saved_tensors
        kernel = list(ctx.kernel)
        # PyTorch's own backward of max_pool2d, differentiable again (create_graph=True).
        grad_x = torch.ops.aten.max_pool2d_with_indices_backward(
            grad.contiguous(), x, kernel, kernel, [0, 0], [1, 1], False, positions)
        return grad_x, None


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` with a faster CPU route for non-overlapping windows (see the module doc).

    Same constructor, attributes, ``repr`` and results as ``nn.MaxPool2d``; input
    ``(B, C, H, W)``, output ``(B, C, H // k, W // k)`` for kernel ``k``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = _pair(self.kernel_size), _pair(self.stride if self.stride is not None else self.kernel_size)
        if (x.device.type == "cpu" and x.dim() == 4 and x.dtype in _FAST_DTYPES and x.is_contiguous()
                and x.shape[1] > 1 and kernel == stride and _pair(self.padding) == (0, 0)
                and _pair(self.dilation) == (1, 1) and not self.ceil_mode and not self.return_indices):
            if not (torch.is_grad_enabled() and x.requires_grad):
                return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel).contiguous()
            return _ChannelsLastMaxPool.apply(x, kernel)
        return super().forward(x)
