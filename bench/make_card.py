"""Make a re-photographed ID-card portrait (KTP style) from a face photo, as the README's engine
example uses: ``python bench/make_card.py PHOTO OUT.jpg [--face-px 36] [--colour] [--seed N]``.

The face is found with the engine, then printed on a card at ``--face-px`` pixels wide (grey unless
``--colour``), JPEG-crushed, and photographed again (``degrade.id_card`` in bench/degrade.py).
Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import degrade
from facematch.engine.facade import FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.types import ImageRole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--face-px", type=int, default=36, help="width of the printed face (pixels)")
    parser.add_argument("--colour", action="store_true", help="a colour print (default: grey)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = args.photo.read_bytes()
    face = FaceEngine.load().analyze(data, ImageRole.REFERENCE)
    rgb = decode_image(data).rgb
    card = degrade.id_card(rgb, face.box, args.face_px, seed=args.seed, colour=args.colour)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(card)
    print(
        f"{args.out}: {args.face_px} px {'colour' if args.colour else 'grey'} portrait of {args.photo.name}"
    )


if __name__ == "__main__":
    main()
