"""WCAG AA contrast of the app's colour pairs, in both themes (values read from app.css)."""

from __future__ import annotations

import re
from importlib import resources

import pytest

CSS = (resources.files("facematch.web") / "static" / "app.css").read_text()

#: (foreground, background, minimum): text 4.5:1, large icons and focus rings 3:1.
PAIRS = [
    ("fg", "bg", 4.5),
    ("muted", "bg", 4.5),
    ("fg", "card", 4.5),
    ("ok", "card", 4.5),  # the "ready" guidance line
    ("on-primary", "primary", 4.5),
    ("ok", "card", 3.0),
    ("bad", "card", 3.0),
    ("warn", "card", 3.0),
    ("focus", "bg", 3.0),
]


def _palette(selector: str) -> dict[str, str]:
    block = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert block is not None, selector
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block.group(1)))


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("selector", [":root", ':root[data-theme="dark"]'])
def test_colour_pairs_meet_aa(selector: str) -> None:
    palette = _palette(selector)
    for fg, bg, minimum in PAIRS:
        assert _ratio(palette[fg], palette[bg]) >= minimum, (
            selector,
            fg,
            bg,
            _ratio(palette[fg], palette[bg]),
        )


def test_the_automatic_dark_theme_matches_the_forced_one() -> None:
    auto = re.search(
        r'@media \(prefers-color-scheme: dark\)\s*\{\s*:root\[data-theme="auto"\]\s*\{([^}]*)\}', CSS
    )
    assert auto is not None
    assert dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", auto.group(1))) == _palette(
        ':root[data-theme="dark"]'
    )
