"""Identities: a folder per person (LFW's layout) or .npz arrays with identity labels; identity-disjoint splits.

The split is by identity, never by image: the people of the validation and test
splits are never seen in training, the one-shot setting of the material (a new
employee is recognised from one photo, without retraining).  Identities are put
in a seeded order and the test and validation shares of *identities* are taken
from its front (rounded, at least one each where the share is not 0); the rest
train.  A .npz that is already split (x_train, x_val, x_test) is taken as it is.

Identities with one image cannot form a positive pair: training leaves them out
of its batches and says how many there are; evaluation still uses them as
negatives and gallery entries.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ...runtime.data import IMAGE_EXTENSIONS, DataError

LABEL_KEYS = ("identities", "y", "labels", "identity")
NAME_KEYS = ("identity_names", "names", "class_names")
_SHOWN = 5  # names listed in a message before "and N more"


def _listing(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def scan_identity_folders(root: Path, mixed_sizes: str = "error") -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """(image paths, identity index per image, identity names, notes) of a folder with a subfolder per person."""
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{root}: no identity folders (a subfolder per person holding their images, as LFW)")
    found = {folder.name: _images(folder) for folder in folders}
    empty = [name for name, files in found.items() if not files]
    if empty:
        raise DataError(
            f"{root}: {len(empty)} identity folder(s) hold no images: {_listing(empty)}\n"
            f"help: remove them, or add images ({', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    names = list(found)
    paths = [str(p) for name in names for p in found[name]]
    identities = np.asarray([i for i, name in enumerate(names) for _ in found[name]], dtype=np.int64)
    if mixed_sizes == "error":
        check_one_size(paths)
    notes = [note for note in (singletons_note(identities, names), _loose_note(root)) if note]
    return paths, identities, names, notes


def check_one_size(paths: list[str]) -> None:
    """DataError when the images are not all one size (read from the file headers only)."""
    from PIL import Image

    sizes: Counter = Counter()
    example: dict[tuple[int, int], str] = {}
    for path in paths:
        try:
            with Image.open(path) as image:
                size = image.size
        except Exception as exc:  # the user's file: named, with PIL's reason
            raise DataError(f"cannot read image {path}: {str(exc).splitlines()[0]}") from None
        sizes[size] += 1
        example.setdefault(size, path)
    if len(sizes) > 1:
        listing = "\n".join(f"  {w}x{h}: {n} image(s), e.g. {example[(w, h)]}" for (w, h), n in sizes.most_common())
        raise DataError(
            f"the images are not all one size ({len(sizes)} sizes, width x height):\n{listing}\n"
            "help: faces are compared as aligned crops of one size; crop them alike, or pass "
            "--mixed-sizes resize to resize each to the model's input"
        )


def _loose_note(root: Path) -> str | None:
    loose = [p.name for p in sorted(Path(root).iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return f"ignored {len(loose)} image(s) outside identity folders: {_listing(loose)}" if loose else None


def singletons_note(identities: np.ndarray, names: list[str] | None = None) -> str | None:
    """Says how many identities have one image only, and names a few."""
    values, counts = np.unique(np.asarray(identities).reshape(-1), return_counts=True)
    single = values[counts == 1]
    if not len(single):
        return None
    shown = [names[int(i)] if names else str(int(i)) for i in single]
    return (
        f"{len(single)} of {len(values)} identities have one image only ({_listing(shown)}): they cannot form "
        "a positive pair, so training uses them only as negatives of others and evaluation as negatives and "
        "gallery entries"
    )


def identity_arrays(arrays: dict, suffix: str, count: int, path: Path) -> np.ndarray:
    """The identity label of each example of a .npz (`identities`, or `y` / `labels`), int64."""
    key = next((f"{k}{suffix}" for k in LABEL_KEYS if f"{k}{suffix}" in arrays), None)
    if key is None:
        raise DataError(
            f"{path} needs the identity of each example as `identities{suffix}` (or `y{suffix}`); "
            f"it has {', '.join(sorted(arrays))}"
        )
    y = np.asarray(arrays[key]).reshape(-1)
    if len(y) != count:
        raise DataError(f"{path}: {count} examples but {len(y)} identities in `{key}`")
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise DataError(f"{path}: `{key}` must hold integer identity labels, not {y.dtype}")
    return y.astype(np.int64)


def identity_names(arrays: dict, identities: np.ndarray, path: Path) -> list[str]:
    """Names from `identity_names` (or `names`), else the label numbers."""
    count = int(identities.max()) + 1 if len(identities) else 0
    key = next((k for k in NAME_KEYS if k in arrays), None)
    names = [str(n) for n in arrays[key]] if key else [str(i) for i in range(count)]
    if len(names) < count:
        raise DataError(f"{path}: identities go up to {count - 1} but `{key}` has {len(names)} names")
    return names


def identity_split(identities: np.ndarray, fractions: tuple[float, float, float], seed: int) -> list[np.ndarray]:
    """Train, validation and test indices with no identity in two splits."""
    identities = np.asarray(identities).reshape(-1)
    order = np.random.default_rng((seed, 2147483647)).permutation(np.unique(identities))
    shares = [0 if f <= 0 else max(1, int(round(len(order) * f))) for f in fractions[1:]]
    n_val, n_test = shares
    if len(order) - n_val - n_test < 2:
        raise DataError(
            f"{len(order)} identities cannot be split {fractions[0]:g}/{fractions[1]:g}/"
            f"{fractions[2]:g} by identity (validation and test need {n_val} + {n_test} of them and "
            "training two or more); use fewer splits or more identities"
        )
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return [np.flatnonzero(np.isin(identities, part)).astype(np.int64) for part in (train, val, test)]


def describe(identities: np.ndarray) -> str:
    """`N identities (M with one image only), I images` for a split."""
    values, counts = np.unique(np.asarray(identities).reshape(-1), return_counts=True)
    return f"{len(values)} identities ({int((counts == 1).sum())} with one image only), {int(counts.sum())} images"
