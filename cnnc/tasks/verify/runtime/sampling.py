"""Training batches of P identities x K images (FaceNet; Hermans et al. 2017), so every anchor has positives.

An epoch has as many batches as one pass over the training images needs
(ceil(N / (P x K))).  Identities are visited in a seeded order that is drawn
afresh whenever it runs out, so each takes its turn equally often; each identity
hands out its images from its own seeded permutation, drawn afresh when used up,
so every image is seen.  An identity with fewer than K images gives all it has
(no image twice in a batch: a duplicate would be a free positive at distance 0).
Identities with one image cannot form a positive and are not sampled here (they
still serve in evaluation as negatives and gallery entries).

With several processes (DDP, tf.distribute) every process draws the same global
batch from the same seed and takes a share of its identities, whole: each
process's part still holds K images of its identities, so positives exist on each
and mining runs among the process's P / world identities (docs/verify.md).
"""

from __future__ import annotations

import numpy as np


class _Cycle:
    """Items in seeded permutations, a new permutation each time the last is used up."""

    def __init__(self, items: np.ndarray, rng: np.random.Generator):
        self.items, self.rng, self.queue = np.asarray(items), rng, np.zeros(0, dtype=np.int64)

    def take(self, count: int) -> np.ndarray:
        count = min(count, len(self.items))
        taken: list[int] = []
        while len(taken) < count:
            if not len(self.queue):
                self.queue = self.rng.permutation(self.items)
            fresh = [int(i) for i in self.queue if int(i) not in taken][: count - len(taken)]
            taken += fresh
            self.queue = np.asarray([i for i in self.queue if int(i) not in fresh], dtype=np.int64)
        return np.asarray(taken, dtype=np.int64)


def trainable_identities(identities: np.ndarray) -> np.ndarray:
    """The identities with at least two examples, sorted: the ones that can form a positive pair."""
    values, counts = np.unique(np.asarray(identities).reshape(-1), return_counts=True)
    return values[counts >= 2]


def pk_batches(
    identities: np.ndarray, p: int, k: int, seed: int, epoch: int, rank: int = 0, world: int = 1
) -> list[np.ndarray]:
    """This process's training batches of an epoch: indices into `identities`, P identities x K images."""
    identities = np.asarray(identities).reshape(-1)
    usable = trainable_identities(identities)
    if len(usable) < 2 or p < 2 or k < 2 or world > min(p, len(usable)):
        raise ValueError(
            f"P x K batches need P >= 2 and K >= 2 and two identities with two images or more "
            f"and no more processes than identities per batch (P={p}, K={k}, {len(usable)} such identities, "
            f"{world} processes)"
        )
    rng = np.random.default_rng((seed, 104729, epoch))
    order = _Cycle(usable, rng)
    pools = {int(i): _Cycle(np.flatnonzero(identities == i), rng) for i in usable}
    p = min(p, len(usable))
    count = -(-len(np.flatnonzero(np.isin(identities, usable))) // (p * k))
    batches = []
    for _ in range(max(count, 1)):
        parts = [pools[int(i)].take(k) for i in order.take(p)]  # every process draws the whole batch alike
        batches.append(np.concatenate(parts[rank::world]))
    return batches
