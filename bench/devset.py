"""The development set: ``../shared/faces-more`` (LFW), split by identity, and its derivatives.

Split rule: an identity belongs to the *tune* half when the first 8 hex digits of the SHA-256 of
its name are even, to the *report* half otherwise. Everything chosen by measurement (search
thresholds, jitter, calibration bands) is chosen on *tune*; BENCHMARKS.md reports *report* only.
A labelled pair belongs to a half when both of its identities do (cross-half impostor pairs are
left out). Images are read from the shared folder and derived in memory: nothing is written into
the repository.

Variants (``image_a`` side, ``image_b`` side) of each labelled pair:

* grey set: ``image_a`` is a grey, low-contrast, low-detail 480×640 selfie (``degrade.grey_selfie``);
  ``image_b`` is the same kind of selfie (``grey``), turned in the pixels (``grey_rot90/180/270``),
  stored turned with an EXIF orientation (``grey_exif6``), a tight 92×112 grey crop of the face with
  no margin (``grey_tight``), or a grey ID-card portrait with the face 24 or 36 px wide
  (``grey_card24``; ``grey_card36_q30``: printed and photographed at JPEG q30);
* colour set: ``image_a`` is the photo as published (250×250); ``image_b`` is the photo as published
  (``colour``), turned by 90/180/270° in turn (``colour_rot``), or printed on a colour ID card with the
  face 30 px wide, JPEG q35, re-photographed (``colour_card30``).
"""

from __future__ import annotations

import csv
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import degrade
from facematch.engine.images import decode_image
from facematch.engine.types import Box

GREY_VARIANTS = (
    "grey",
    "grey_rot90",
    "grey_rot180",
    "grey_rot270",
    "grey_exif6",
    "grey_tight",
    "grey_card24",
    "grey_card36_q30",
)
COLOUR_VARIANTS = ("colour", "colour_rot", "colour_card30")
VARIANTS = GREY_VARIANTS + COLOUR_VARIANTS


def half_of(identity: str) -> str:
    """ "tune" or "report": the identity split rule."""
    return "tune" if int(hashlib.sha256(identity.encode()).hexdigest()[:8], 16) % 2 == 0 else "report"


@dataclass(frozen=True)
class DevSet:
    root: Path
    identities: dict[str, str]  # file -> identity
    pairs: list[tuple[str, str, bool]]

    @property
    def files(self) -> list[str]:
        return sorted({f for a, b, _ in self.pairs for f in (a, b)})


def load(shared: Path, half: str, *, max_identities: int | None = None) -> DevSet:
    """The labelled pairs of one half (optionally of its first ``max_identities`` identities)."""
    root = shared / "faces-more"
    with (root / "identities.csv").open() as handle:
        identities = {r["file"]: r["identity"] for r in csv.DictReader(handle)}
    chosen = sorted({i for i in identities.values() if half_of(i) == half})
    if max_identities is not None:
        chosen = sorted(chosen, key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:max_identities]
    keep = set(chosen)
    pairs = []
    with (root / "pairs.csv").open() as handle:
        for row in csv.DictReader(handle):
            a, b = row["image_a"], row["image_b"]
            if identities[a] in keep and identities[b] in keep:
                pairs.append((a, b, row["same_person"] == "yes"))
    return DevSet(root, identities, pairs)


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def side_a(variant: str) -> str:
    """The derivative used on the ``image_a`` side of ``variant``."""
    return "grey" if variant.startswith("grey") else "colour"


def derive(variant: str, name: str, data: bytes, box: Callable[[], Box]) -> bytes:
    """The ``variant`` derivative of the image ``name`` (``box``: its face, when one is needed)."""
    if variant == "colour":
        return data
    rgb = decode_image(data).rgb
    if variant == "colour_rot":
        return degrade.encode(degrade.rotated(rgb, (90, 180, 270)[_seed(name) % 3]))
    if variant == "colour_card30":
        return degrade.id_card(
            rgb, box(), 30, seed=_seed(name), colour=True, print_quality=35, photo_quality=35
        )
    if variant.startswith("grey_card"):
        face_px = int(variant.removeprefix("grey_card").split("_")[0])
        quality = 30 if variant.endswith("_q30") else 75
        return degrade.id_card(rgb, box(), face_px, seed=_seed(name), photo_quality=quality)
    if variant == "grey_tight":
        return degrade.encode(degrade.grey(degrade.low_contrast(degrade.tight_crop(rgb, box()))))
    selfie = degrade.grey_selfie(rgb)
    if variant == "grey":
        return degrade.encode(selfie)
    if variant.startswith("grey_rot"):
        return degrade.encode(degrade.rotated(selfie, int(variant.removeprefix("grey_rot"))))
    if variant.startswith("grey_exif"):
        return degrade.exif_rotated(selfie, int(variant.removeprefix("grey_exif")))
    raise ValueError(f"unknown variant {variant}")


def lfw_box(rgb: np.ndarray) -> Box:
    """The labelled face of a deep-funneled LFW image: the funnelling centres and scales every
    face, so its box is fixed (the median YuNet box over the tune half: 94×124 px centred at
    (125.7, 129.3) in 250×250); no detector decides it image by image."""
    h, w = rgb.shape[:2]
    width, height = 0.376 * w, 0.496 * h
    return Box(0.503 * w - width / 2, 0.517 * h - height / 2, width, height)
