"""A partner's flow settings, spelled once: each one's attribute (the partner row and
``PartnerOptions``), its name in what partners and operators read (``partner show``, the console),
its default for a new partner, and its command-line option. The database model, the CLI, the
console's partner form and ``describe`` all read this table; a new setting is one more row here
(plus its column and, where it is validated, a rule in :mod:`facematch.flows.partners`).

Settings with their own shape (hosts, origins, headers, the callback, the review band) keep their
own parsing; these are the plain switches and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    """The attribute of the partner row and of ``PartnerOptions``."""
    wire: str
    """Its name where it is shown (``partner show``, the console's partner record)."""
    kind: type[bool] | type[int] | type[str]
    default: bool | int | str | None
    """A new partner's value (None: the deployment's own, e.g. ``submissions.default_max_attempts``)."""
    flag: str
    """The option of ``facematch partner create|update``."""
    help: str
    words: tuple[str, ...] = ("on", "off")
    """A switch's two command-line words: (true, false); a choice's values (``str``), the
    default's first."""


SETTINGS: tuple[Setting, ...] = (
    Setting("max_attempts", "maxAttempts", int, None, "--max-attempts", "attempts per partner session"),
    Setting(
        "show_status_screen",
        "showStatusScreen",
        bool,
        True,
        "--status-screen",
        "show our status screen (CTA)",
        ("show", "hide"),
    ),
    Setting("allow_qr", "allowQr", bool, False, "--allow-qr", "Smart QR default: allowQr"),
    Setting("force_qr", "forceQr", bool, False, "--force-qr", "Smart QR default: forceQr"),
    Setting(
        "auto_capture", "autoCapture", bool, True, "--auto-capture", "take the photo after a 3-2-1 countdown"
    ),
    Setting(
        "retry_window_s",
        "retryWindowS",
        int,
        600,
        "--retry-window-s",
        "a session left after a retry becomes final after this (default 600)",
    ),
    Setting(
        "liveness",
        "liveness",
        str,
        "off",
        "--liveness",
        "active: every session asks for a head-move challenge before the selfie (docs/liveness.md)",
        ("off", "active"),
    ),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}


def default(name: str) -> bool | int | str | None:
    """A new partner's value of setting ``name``."""
    return BY_NAME[name].default
