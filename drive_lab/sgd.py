"""SGD with momentum, Nesterov and per-group weight decay, step for step what
``torch.optim.SGD(..., foreach=True)`` computes (dampening 0).

Why not torch's class: the first ``torch.optim.Optimizer`` a process builds imports
``torch._dynamo`` (seconds of start-up, more than a default CLI run's pruning). The update
is the same sequence of foreach operations, so results are bit-identical (tested against
``torch.optim.SGD`` and ``LambdaLR``):

    g ← ∇ + λ·θ                      (λ the group's weight decay; skipped when λ = 0)
    b ← g  (first step),  b ← μ·b + g (later steps)
    d ← g + μ·b (Nesterov),  d ← b    (otherwise)
    θ ← θ − η·d

Parameters whose gradient is ``None`` are skipped, as torch does. The learning rate η is
``base_lr × factor`` (:meth:`SGD.set_lr_factor`), as ``LambdaLR`` sets it.
"""
from __future__ import annotations

from typing import Iterable

import torch


class SGD:
    """``param_groups``: dicts with ``params`` (list of tensors), ``weight_decay``, ``lr`` and
    ``base_lr`` (the learning rate given), as torch's optimisers hold them."""

    def __init__(self, groups: Iterable[dict], lr: float, momentum: float = 0.0, nesterov: bool = False):
        if lr < 0 or momentum < 0:
            raise ValueError(f"SGD needs lr >= 0 and momentum >= 0, got lr={lr!r}, momentum={momentum!r}")
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.param_groups = [{"params": list(g["params"]), "weight_decay": float(g.get("weight_decay", 0.0)),
                              "lr": float(lr), "base_lr": float(lr)} for g in groups]
        self._buffers: dict[int, torch.Tensor] = {}  # id(parameter) -> momentum buffer

    def set_lr_factor(self, factor: float) -> None:
        """η ← base_lr × factor in every group (what ``LambdaLR`` does after each step)."""
        for group in self.param_groups:
            group["lr"] = group["base_lr"] * factor

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._step_group(params, group["weight_decay"], group["lr"])

    def _step_group(self, params: list[torch.Tensor], weight_decay: float, lr: float) -> None:
        grads = [p.grad for p in params]
        if weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
        if self.momentum != 0:
            bufs = [self._buffers.get(id(p)) for p in params]
            if all(b is not None for b in bufs):
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, grads, alpha=1.0)
            else:
                for i, (p, g) in enumerate(zip(params, grads)):
                    if bufs[i] is None:
                        bufs[i] = self._buffers[id(p)] = g.detach().clone()
                    else:
                        bufs[i].mul_(self.momentum).add_(g, alpha=1.0)
            if self.nesterov:
                torch._foreach_add_(grads, bufs, alpha=self.momentum)
            else:
                grads = bufs
        torch._foreach_add_(params, grads, alpha=-lr)
