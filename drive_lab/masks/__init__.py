"""Binary pruning masks over the prunable weights, and the four mask invariants.

What is prunable (method.md): the ``.weight`` of every ``nn.Conv2d`` and ``nn.Linear``,
the classifier included. Biases, BatchNorm parameters and buffers are never pruned.

Invariants (method.md), and where each is kept:

1. Nested: :func:`keep_top` ranks only the weights that survive, so a weight pruned once
   stays pruned whatever its score (its score is treated as ``-inf``).
2. Exact: :func:`keep_top` keeps exactly ``round(density * n_prunable)`` weights by a
   global top-k with deterministic tie-breaking, never by a ``<=`` threshold.
3. Enforced: :meth:`Masks.apply` / :class:`BoundMasks` zero pruned weights in place;
   training calls them after every optimiser step, scoring before every score.
4. Observable: :meth:`Masks.layer_density`, :meth:`Masks.collapsed`, :meth:`Masks.report`.

Cost (one pruning iteration should cost about one forward + backward pass):

* A :class:`Masks` never changes, so it keeps what it learns about itself: the number kept
  in each layer (Python ints: counting, density and the per-step report never touch the
  device again) and the positions of the kept weights.
* :func:`keep_top` ranks only the survivors (at low density most entries are already
  pruned). On a GPU it makes one host synchronisation, a small transfer carrying its NaN
  check and the per-layer counts of the new masks; nothing else waits for the device.
* On the CPU the bookkeeping (gathering the survivors, the selection, the new masks) runs
  in NumPy on zero-copy views of the tensors: the arrays involved are small (one entry per
  survivor), and for such arrays each torch call costs several times its NumPy
  counterpart. When few survivors go, as in every step of an iterative schedule, the
  selection is a vectorised comparison plus a stable sort of a few candidates instead of
  a branchy k-th-value search over all survivors.

Modules: :mod:`.container` (:class:`Masks`, :class:`BoundMasks`), :mod:`.prunable` (which weights
are prunable), :mod:`.arrays` (array helpers), :mod:`.scored` (the scores dict of :meth:`Masks.expand`), :mod:`.selection`
(:func:`keep_top`, :func:`keep_top_survivors`), :mod:`.files` (:func:`save`, :func:`load`).
"""
from .container import BoundMasks, Masks
from .prunable import PRUNABLE_TYPES, prunable_parameters
from .files import load, save
from .selection import keep_top, keep_top_survivors

__all__ = ["Masks", "BoundMasks", "keep_top", "keep_top_survivors", "prunable_parameters", "save", "load", "PRUNABLE_TYPES"]
