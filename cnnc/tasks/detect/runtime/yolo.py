"""The YOLOv2 grid: which cell and anchor an object belongs to, the box encoding, the loss, decoding.

The output is S_h x S_w x A(5 + C), channels-last, each anchor's numbers as
(tx, ty, tw, th, to, c_1..c_C) (YAD2K's and darknet's order).  A target is
M x 5 per image: (class, cx, cy, w, h), midpoint and size as fractions of the
image, rows with class -1 are padding (no object).

Assignment (the material's rule): an object belongs to the cell that holds its
midpoint, and within it to the anchor whose shape has the highest IoU with the
object's (boxes.shape_iou).  When two objects claim one cell and anchor, the
first in the label file keeps it and the other is not trained (as darknet).

Encoding (YOLOv2, Redmon and Farhadi 2016, section 2 "Direct location
prediction"), for cell (row, col) and anchor (p_w, p_h):

    b_x = (col + sigmoid(t_x)) / S_w        b_w = p_w * exp(t_w)
    b_y = (row + sigmoid(t_y)) / S_h        b_h = p_h * exp(t_h)
    P(object) = sigmoid(t_o)                P(class | object) = softmax(c)

The loss, summed over cells and anchors and averaged over images:

    box    = sum over assigned (sigmoid(t_x) - x)^2 + (sigmoid(t_y) - y)^2 + (t_w - log(w / p_w))^2
             + (t_h - log(h / p_h))^2            x, y: the midpoint's offset in its cell, in cells
    obj    = sum over assigned   -log sigmoid(t_o)          (binary cross-entropy, target 1)
    noobj  = sum over the others -log(1 - sigmoid(t_o))     (target 0)
    cls    = sum over assigned   -log softmax(c)[class]
    total  = box_weight * box + obj + noobj_weight * noobj + cls

One formula serves numpy (the reference), PyTorch and TensorFlow: it is
written once, over an `ops` table of the few array functions it needs; each
framework file brings its table (the arithmetic operators are the arrays' own).
"""

from __future__ import annotations

import numpy as np

TERMS = ("box", "obj", "noobj", "cls")


class NumpyOps:
    """The array functions the loss needs, in float64 numpy: the reference the frameworks are tested against."""

    def tensor(self, value, like=None):
        return np.asarray(value, dtype=np.float64)

    def sigmoid(self, x):
        return 1 / (1 + np.exp(-x))

    def softplus(self, x):
        return np.logaddexp(0.0, x)

    def log_softmax(self, x):
        shifted = x - x.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    def one_hot(self, index, depth: int, like=None):
        return np.eye(depth)[np.asarray(index, dtype=np.int64)]

    def argmax(self, x):
        return np.argmax(x, axis=-1)

    def floor(self, x):
        return np.floor(x)

    def clip(self, x, low: float, high: float):
        return np.clip(x, low, high)

    def minimum(self, a, b):
        return np.minimum(a, b)

    def log(self, x):
        return np.log(x)

    def cumsum(self, x, axis: int):
        return np.cumsum(x, axis=axis)

    def equal(self, x, value: float):
        return (x == value).astype(np.float64)

    def stack(self, xs):
        return np.stack(xs, axis=-1)

    def reshape(self, x, shape):
        return np.reshape(x, shape)

    def einsum(self, formula: str, *xs):
        return np.einsum(formula, *xs)

    def total(self, x):
        return x.sum()

    def per_image(self, x):
        return x.reshape(x.shape[0], -1).sum(axis=1)


def assign(boxes, anchors: np.ndarray, grid: tuple[int, int], ops):
    """For every object, the one-hot slot it trains (N x M x S_h*S_w x A; padding and objects whose slot an
    earlier object took are all zero) and its targets (N x M x 4: x, y in its cell, log(w / p_w),
    log(h / p_h))."""
    rows, cols = grid
    valid = 1.0 - ops.equal(boxes[..., 0], -1.0)
    cx, cy, w, h = boxes[..., 1], boxes[..., 2], boxes[..., 3], boxes[..., 4]
    col = ops.clip(ops.floor(cx * cols), 0, cols - 1)
    row = ops.clip(ops.floor(cy * rows), 0, rows - 1)
    aw, ah = ops.tensor(anchors[:, 0], boxes), ops.tensor(anchors[:, 1], boxes)
    inter = ops.minimum(w[..., None], aw) * ops.minimum(h[..., None], ah)
    iou = inter / ((w * h)[..., None] + aw * ah - inter)
    best = ops.one_hot(ops.argmax(iou), len(anchors), boxes)
    best_w, best_h = ops.einsum("nma,a->nm", best, aw), ops.einsum("nma,a->nm", best, ah)
    safe = 1.0 - valid  # padding rows have w = h = 0: keep the logarithm finite there, they are masked anyway
    targets = ops.stack([cx * cols - col, cy * rows - row, ops.log((w + safe) / best_w), ops.log((h + safe) / best_h)])
    cell = ops.one_hot((row * cols + col) * 1.0, rows * cols, boxes)
    slot = cell[..., :, None] * best[..., None, :] * valid[..., None, None]
    first = slot * ops.equal(ops.cumsum(slot, axis=1), 1.0)
    return first, targets


def loss_terms(raw, boxes, anchors: np.ndarray, classes: int, ops, per_image: bool = False) -> dict:
    """The four terms (box, obj, noobj, cls), each summed over cells and anchors and averaged over images
    (with `per_image`, one sum per image: what Keras' compiled loss averages itself).
    raw: N x S_h x S_w x A(5 + C) channels-last; boxes: N x M x 5."""
    rows, cols = int(raw.shape[1]), int(raw.shape[2])
    count = len(anchors)
    first, targets = assign(boxes, anchors, (rows, cols), ops)
    pred = ops.reshape(raw, (-1, rows * cols, count, 5 + classes))
    assigned = ops.einsum("nmsa->nsa", first)
    slot_targets = ops.einsum("nmsa,nmd->nsad", first, targets)
    labels = ops.one_hot(ops.clip(boxes[..., 0], 0, classes - 1), classes, boxes)
    slot_labels = ops.einsum("nmsa,nmc->nsac", first, labels)
    if per_image:
        reduce = ops.per_image
    else:
        images = ops.tensor(float(raw.shape[0]), raw)
        reduce = lambda x: ops.total(x) / images  # noqa: E731
    xy = ops.stack([ops.sigmoid(pred[..., 0]), ops.sigmoid(pred[..., 1]), pred[..., 2], pred[..., 3]])
    box = reduce(assigned[..., None] * (xy - slot_targets) ** 2)
    obj = reduce(assigned * ops.softplus(-pred[..., 4]))
    noobj = reduce((1.0 - assigned) * ops.softplus(pred[..., 4]))
    cls = -reduce(assigned[..., None] * slot_labels * ops.log_softmax(pred[..., 5:]))
    return {"box": box, "obj": obj, "noobj": noobj, "cls": cls}


def total_loss(terms: dict, box_weight: float, noobj_weight: float):
    return box_weight * terms["box"] + terms["obj"] + noobj_weight * terms["noobj"] + terms["cls"]


# ---------------------------------------------------------------- decoding (numpy)


def decode(raw: np.ndarray, anchors: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Corner boxes (N x K x 4, fractions of the image) and class scores P(object) * P(class | object)
    (N x K x C) of raw outputs N x S_h x S_w x A(5 + C), K = S_h * S_w * A in row, column, anchor order."""
    raw = np.asarray(raw, dtype=np.float64)
    n, rows, cols = raw.shape[:3]
    count = len(anchors)
    pred = raw.reshape(n, rows, cols, count, 5 + classes)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    col = np.arange(cols)[None, None, :, None]
    row = np.arange(rows)[None, :, None, None]
    cx, cy = (col + sig(pred[..., 0])) / cols, (row + sig(pred[..., 1])) / rows
    w = anchors[:, 0] * np.exp(np.clip(pred[..., 2], None, 20))  # clip: an untrained net's exp overflows
    h = anchors[:, 1] * np.exp(np.clip(pred[..., 3], None, 20))
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    logits = pred[..., 5:] - pred[..., 5:].max(axis=-1, keepdims=True)
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    scores = sig(pred[..., 4])[..., None] * probs
    return corners.reshape(n, -1, 4), scores.reshape(n, -1, classes)


def encode(boxes: np.ndarray, anchors: np.ndarray, grid: tuple[int, int], classes: int) -> np.ndarray:
    """The training target as a grid, S_h x S_w x A x (5 + C) per image: (x, y, log(w/p_w), log(h/p_h), 1,
    one-hot class) in each assigned slot, zeros elsewhere; for reading and for tests of `assign`."""
    boxes = np.asarray(boxes, dtype=np.float64)
    ops = NumpyOps()
    first, targets = assign(boxes, anchors, grid, ops)
    labels = ops.one_hot(np.clip(boxes[..., 0], 0, classes - 1), classes)
    per_object = np.concatenate([targets, np.ones(targets.shape[:-1] + (1,)), labels], axis=-1)
    grid_targets = np.einsum("nmsa,nmd->nsad", first, per_object)
    return grid_targets.reshape(len(boxes), grid[0], grid[1], len(anchors), 5 + classes)
