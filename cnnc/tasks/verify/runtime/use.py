"""Using a trained encoding: verify.py (two images: the same identity or not) and recognize.py (who is it,
against a gallery of one image per person), framework-neutral.

The framework file's `Encoder` turns images into encodings; everything else is
here: arguments, reading and scaling images as training did (run/normalizer.json),
tau (run/metrics.json, chosen on the validation split, or --tau), the gallery
and its cache.  The gallery's encodings are computed once and kept in
run/gallery-<key>.npz, the key a hash of the gallery's files (names, sizes,
modification times) and of the weights file, so a changed gallery or new
weights compute them again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from ...runtime.config import ConfigError
from ...runtime.data import IMAGE_EXTENSIONS, DataError, Normalizer, decode_image
from .evaluate import recognise


def run(main) -> int:
    """A user's mistake (a missing file, no tau) is one line and exit status 2, never a traceback."""
    try:
        return main()
    except (DataError, ConfigError) as exc:
        print(f"error: {exc}", flush=True)
        return 2


def _common(parser: argparse.ArgumentParser, config: dict) -> None:
    parser.add_argument("--tau", type=float, help="the threshold (default: the one in <out>/metrics.json)")
    parser.add_argument("--weights", help="weights file (default: the best weights in <out>)")
    parser.add_argument("--out", default=config["out"], help="the training run's folder (default: %(default)s)")


def verify_arguments(argv: list[str] | None, config: dict) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="same identity or not: d(f(img1), f(img2)) against tau")
    parser.add_argument("images", nargs=2, metavar="IMAGE")
    _common(parser, config)
    return parser.parse_args(argv)


def recognize_arguments(argv: list[str] | None, config: dict) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="who is it: the nearest gallery identity, or not recognised")
    parser.add_argument(
        "--gallery",
        required=True,
        help="a folder: one image per person (the file's name is the "
        "person's), or a subfolder per person (its first image)",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    _common(parser, config)
    return parser.parse_args(argv)


def read_images(paths: list[str], shape: tuple[int, ...], out: str) -> np.ndarray:
    """Images at the model's channels-last input shape, scaled as in training."""
    for path in paths:
        if not Path(path).is_file():
            raise DataError(f"no image file {path}")
    raw = np.stack([decode_image(str(p), shape) for p in paths])
    normalizer = load_normalizer(out)
    return normalizer.standardize(normalizer.scaled(raw))


def load_normalizer(out: str) -> Normalizer:
    path = Path(out) / "normalizer.json"
    if not path.is_file():
        raise ConfigError(f"no {path}: train first (train.py writes it), or give --out the training run's folder")
    return Normalizer(**json.loads(path.read_text(encoding="utf-8")))


def threshold(args: argparse.Namespace) -> float:
    if args.tau is not None:
        return float(args.tau)
    path = Path(args.out) / "metrics.json"
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["verification"]["tau"])
    except (OSError, KeyError, ValueError):
        raise ConfigError(f"no tau in {path}: train and test first, or give --tau") from None


def verify(encoder, args: argparse.Namespace) -> int:
    """Prints the dissimilarity of two images and `same` or `different` at tau."""
    tau = threshold(args)
    emb = encoder.encode(read_images(list(args.images), encoder.shape, args.out))
    d = float(encoder.measure().between(emb[:1], emb[1:])[0, 0])
    verdict = "same identity" if d <= tau else "different identities"
    print(f"{args.images[0]} vs {args.images[1]}: distance {d:.4f}, tau {tau:.4f}: {verdict}")
    return 0


def gallery_files(folder: str) -> tuple[list[str], list[str]]:
    """(names, image paths): a subfolder per person (its first image), or one image per person (its stem)."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"no gallery folder {folder}")
    names, paths = [], []
    for entry in sorted(root.iterdir()):
        images = [entry] if entry.is_file() else sorted(p for p in entry.rglob("*") if p.is_file())
        images = [p for p in images if p.suffix.lower() in IMAGE_EXTENSIONS]
        if images:
            names.append(entry.stem if entry.is_file() else entry.name)
            paths.append(str(images[0]))
    if not paths:
        raise DataError(f"{folder}: no images (one per person, or a subfolder per person)")
    return names, paths


def gallery_encodings(encoder, folder: str, out: str) -> tuple[list[str], np.ndarray]:
    """The gallery's names and encodings, from the cache when neither the files nor the weights changed."""
    names, paths = gallery_files(folder)
    key = hashlib.sha256()
    for path in [*paths, encoder.weights]:
        stat = Path(path).stat()
        key.update(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    cache = Path(out) / f"gallery-{key.hexdigest()[:16]}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as blob:
            return [str(n) for n in blob["names"]], blob["encodings"]
    emb = encoder.encode(read_images(paths, encoder.shape, out))
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, names=np.asarray(names), encodings=emb)
    tmp.replace(cache)
    return names, emb


def recognize(encoder, args: argparse.Namespace) -> int:
    """Prints, per image, the nearest gallery person and the distance, or `not recognised` beyond tau."""
    tau = threshold(args)
    names, gallery = gallery_encodings(encoder, args.gallery, args.out)
    probes = encoder.encode(read_images(list(args.images), encoder.shape, args.out))
    found, best = recognise(probes, gallery, tau, encoder.measure())
    for image, index, d in zip(args.images, found, best, strict=True):
        who = names[index] if index >= 0 else "not recognised"
        print(f"{image}: {who} (distance {d:.4f}, tau {tau:.4f})")
    return 0
