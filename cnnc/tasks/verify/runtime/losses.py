"""The triplet and pair losses once, for every framework: written against `xp`, a small table of array
operations that torch.py and keras.py each supply (`TorchOps`, `KerasOps`).

Everything is masks over the batch's N x N distance matrix, so it runs inside a
compiled graph with a batch size unknown until run time (Keras) and needs no
per-anchor Python loop.  mining.py holds the same definitions written the plain
way (explicit triplet indices, loops): the tests hold both to one value.
"""

from __future__ import annotations

from .mining import ACTIVE_EPS, CHI2_EPS, SQRT_FLOOR

INF = 1e30  # stands for +-infinity in masked minima and maxima (a real inf turns 0 * inf into NaN gradients)


def distance_matrix(xp, emb, squared: bool = True):
    """N x N distances from the embeddings' differences (no ||a||^2 + ||b||^2 - 2ab cancellation)."""
    d = xp.sum((emb[:, None, :] - emb[None, :, :]) ** 2, axis=-1)
    return d if squared else xp.sqrt(xp.maximum(d, SQRT_FLOOR))


def masks(xp, labels):
    """(positive, negative) N x N boolean masks: same identity and another example; another identity."""
    idx = xp.rows(labels)
    same = labels[:, None] == labels[None, :]
    return same & (idx[:, None] != idx[None, :]), ~same


def masked_mean(xp, values, mask, reduction: str):
    """Sum of `values` where `mask`; "mean" divides by how many (at least 1)."""
    total = xp.sum(xp.where(mask, values, 0.0))
    return total if reduction == "sum" else total / xp.maximum(xp.sum(xp.float(mask)), 1.0)


def batch_all_loss(xp, d, pos, neg, alpha: float, reduction: str):
    losses = xp.relu(d[:, :, None] - d[:, None, :] + alpha)  # [a, p, n]
    valid = pos[:, :, None] & neg[:, None, :]
    return masked_mean(xp, losses, valid & (losses > ACTIVE_EPS), reduction)


def batch_hard_loss(xp, d, pos, neg, alpha: float, reduction: str):
    farthest_positive = xp.max(xp.where(pos, d, -INF), axis=1)
    nearest_negative = xp.min(xp.where(neg, d, INF), axis=1)
    anchors = xp.any(pos, axis=1) & xp.any(neg, axis=1)
    return masked_mean(xp, xp.relu(farthest_positive - nearest_negative + alpha), anchors, reduction)


def semi_hard_loss(xp, d, pos, neg, alpha: float, reduction: str):
    farther = neg[:, None, :] & (d[:, None, :] > d[:, :, None])  # [a, p, n]: n is farther from a than p
    nearest_farther = xp.min(xp.where(farther, d[:, None, :], INF), axis=2)
    farthest_negative = xp.max(xp.where(neg, d, -INF), axis=1)
    chosen = xp.where(xp.any(farther, axis=2), nearest_farther, farthest_negative[:, None])
    valid = pos & xp.any(neg, axis=1)[:, None]
    return masked_mean(xp, xp.relu(d - chosen + alpha), valid, reduction)


_TRIPLET = {"batch-all": batch_all_loss, "batch-hard": batch_hard_loss, "semi-hard": semi_hard_loss}


def triplet_loss(
    xp, emb, labels, alpha: float = 0.2, mining: str = "batch-hard", squared: bool = True, reduction: str = "mean"
):
    """The material's max(d(A, P) - d(A, N) + alpha, 0) over the triplets `mining` selects (mining.py)."""
    emb = xp.float(emb)
    pos, neg = masks(xp, labels)
    return _TRIPLET[mining](xp, distance_matrix(xp, emb, squared), pos, neg, alpha, reduction)


def pair_logit_matrix(xp, emb, w, b, kind: str = "abs"):
    """N x N logits sum_k w_k feature_k(f_i, f_j) + b; only i < j is used."""
    emb = xp.float(emb)
    diff = emb[:, None, :] - emb[None, :, :]
    if kind == "chi2":
        features = diff**2 / (xp.abs(emb)[:, None, :] + xp.abs(emb)[None, :, :] + CHI2_EPS)
    else:
        features = xp.abs(diff)
    return xp.sum(features * w, axis=-1) + b


def pair_loss_from_logits(xp, logits, labels):
    """Balanced binary cross-entropy over the pairs i < j (mining.pair_loss)."""
    idx = xp.rows(labels)
    upper = idx[:, None] < idx[None, :]
    same = labels[:, None] == labels[None, :]
    y = xp.float(same)
    bce = xp.relu(logits) - logits * y + xp.log1p(xp.exp(-xp.abs(logits)))
    parts = [masked_mean(xp, bce, upper & same, "mean"), masked_mean(xp, bce, upper & ~same, "mean")]
    has = [xp.float(xp.any(upper & same)), xp.float(xp.any(upper & ~same))]
    # half and half where both kinds of pair exist; otherwise the one that does, whole
    weight = 0.5 + 0.5 * (1.0 - has[0] * has[1])
    return weight * (parts[0] + parts[1])
