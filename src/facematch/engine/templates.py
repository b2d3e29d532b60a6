"""How templates are made: the mean of several crops' features, small faces averaged over their
landmarks' uncertainty, and condition matching (a richer face brought down to a poorer face's size
and colour before the two are compared), with the caller-owned store of matched templates."""

from __future__ import annotations

import math
from collections import OrderedDict

import cv2
import numpy as np
import numpy.typing as npt

from facematch.engine.align import CROP_SIZE, TEMPLATE_INTEROCULAR, align_face
from facematch.engine.models import normalise
from facematch.engine.types import FaceAnalysis, Template

#: mean saturation (0-255) under which a face counts as grey
GREY_SATURATION = 18.0

#: condition-matched sides step by 2^(1/6) (~12%): finer steps change the similarity by less than
#: the landmark noise of a face that small, and a coarse ladder lets one selfie's adapted templates
#: serve many references in an evaluation
SIDE_STEPS_PER_OCTAVE = 6


def adapted_side(interocular_px: float) -> int:
    """The crop side at which a face shows ``interocular_px`` between the eyes, on the ladder."""
    exact = max(8.0, CROP_SIZE * interocular_px / TEMPLATE_INTEROCULAR)
    step = round(math.log2(exact / 8.0) * SIDE_STEPS_PER_OCTAVE)
    return max(8, round(8.0 * math.pow(2.0, step / SIDE_STEPS_PER_OCTAVE)))


def is_greyscale(crop: npt.NDArray[np.uint8]) -> bool:
    """Whether a face crop carries (almost) no colour: mean HSV saturation of its centre."""
    hsv = cv2.cvtColor(crop[24:104, 20:92], cv2.COLOR_RGB2HSV)
    return bool(hsv[:, :, 1].mean() < GREY_SATURATION)


def match_conditions(crop: npt.NDArray[np.uint8], side: int | None, *, grey: bool) -> npt.NDArray[np.uint8]:
    """``crop`` as it would look had the face been ``side`` pixels across at most, and/or grey."""
    out = crop
    if side is not None and side < CROP_SIZE:
        small = cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA)
        out = np.asarray(cv2.resize(small, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR), np.uint8)
    if grey:
        g = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = np.stack([g, g, g], axis=-1)
    return np.ascontiguousarray(out)


class AdaptedTemplates:
    """Condition-matched templates of faces that meet many others, for one caller's run.

    Keyed by the analysis itself, bounded (least recently used entries go first). The engine never
    holds one: the caller creates it, passes it to :meth:`FaceEngine.compare_analyses`, and drops it.
    """

    def __init__(self, maxsize: int = 8192) -> None:
        self._maxsize = maxsize
        self._items: OrderedDict[tuple[FaceAnalysis, int | None, bool], Template] = OrderedDict()

    def get(self, key: tuple[FaceAnalysis, int | None, bool]) -> Template | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[FaceAnalysis, int | None, bool], template: Template) -> None:
        self._items[key] = template
        self._items.move_to_end(key)
        while len(self._items) > self._maxsize:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def mean_template(features: npt.NDArray[np.float32]) -> Template:
    """The unit-length mean of the unit-length rows of ``features``."""
    mean = normalise(features).mean(axis=0, keepdims=True)
    averaged: Template = normalise(mean)[0]
    return averaged


def jittered_crops(
    image: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.float64], count: int = 6
) -> list[npt.NDArray[np.uint8]]:
    """Alignments of a small face with its landmarks scaled by ±5% and shifted by 5% of the eye
    distance: on a face a few pixels wide the landmarks are uncertain by about that much, and
    averaging the templates over that uncertainty steadies them (measured in BENCHMARKS.md).
    ``count``: how many of the six (scales first, then shifts)."""
    centre = landmarks.mean(axis=0)
    eye = float(np.hypot(*(landmarks[1] - landmarks[0])))
    variants = [(landmarks - centre) * s + centre for s in (0.95, 1.05)]
    variants += [
        landmarks + np.array(shift) * eye for shift in ((0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05))
    ]
    return [align_face(image, marks) for marks in variants[:count]]
