"""``facematch partner create|list|show|update|rotate-key|set-callback|disable``.

Pass-keys and webhook secrets are printed once (on create, rotate-key and with --new-secret) and
stored hashed (pass-keys) or only server-side (secrets).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _options_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onboarding-partner", action="append", help="allowed x-onboarding-partner (repeat)")
    parser.add_argument("--reference-host", action="append", help="allowed referenceImageUrl host (repeat)")
    parser.add_argument(
        "--reference-header", action="append", help="'Name: value' sent with reference fetches"
    )
    parser.add_argument(
        "--frame-origin", action="append", help="origin allowed to frame the web app (repeat)"
    )
    parser.add_argument("--max-attempts", type=int, help="attempts per partner session")
    parser.add_argument("--status-screen", choices=("show", "hide"), help="show our status screen (CTA)")
    parser.add_argument("--allow-qr", choices=("on", "off"), help="Smart QR default: allowQr")
    parser.add_argument("--force-qr", choices=("on", "off"), help="Smart QR default: forceQr")
    parser.add_argument(
        "--review-band",
        help="similarity band a reviewer decides: LOW:HIGH (e.g. 0.30:0.363) or far:FAR[:FAR] "
        "(e.g. far:1e-2); 'off' removes it",
    )
    parser.add_argument("--review-deadline-h", type=float, help="hours before a review item gets its default")
    parser.add_argument(
        "--review-default",
        choices=("reject", "approve"),
        default=None,
        help="outcome when the deadline passes",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("partner", help="manage partners and their credentials")
    commands = parser.add_subparsers(dest="partner_command", required=True)
    create = commands.add_parser("create", help="create a partner (prints its client-id and pass-key once)")
    create.add_argument("name")
    _options_arguments(create)
    create.set_defaults(func=create_cmd)
    commands.add_parser("list", help="list partners").set_defaults(func=list_cmd)
    show = commands.add_parser("show", help="show a partner's settings (no secrets)")
    show.add_argument("client_id")
    show.set_defaults(func=show_cmd)
    update = commands.add_parser("update", help="change a partner's settings")
    update.add_argument("client_id")
    _options_arguments(update)
    update.set_defaults(func=update_cmd)
    rotate = commands.add_parser("rotate-key", help="new pass-key; the old one stays valid for an overlap")
    rotate.add_argument("client_id")
    rotate.add_argument("--overlap-s", type=int, default=None, help="overlap in seconds (0: revoke now)")
    rotate.set_defaults(func=rotate_cmd)
    callback = commands.add_parser("set-callback", help="set the completion callback endpoint")
    callback.add_argument("client_id")
    callback.add_argument("url", nargs="?", default=None, help="callback URL (omit to clear)")
    callback.add_argument("--method", default="POST", choices=("POST", "PUT", "PATCH"))
    callback.add_argument("--auth-header", default=None, help="'Name: value', e.g. 'Authorization: Bearer x'")
    callback.add_argument("--new-secret", action="store_true", help="generate and print a new webhook secret")
    callback.set_defaults(func=callback_cmd)
    disable = commands.add_parser("disable", help="disable a partner (tokens and pass-keys stop working)")
    disable.add_argument("client_id")
    disable.add_argument("--enable", action="store_true", help="enable it again")
    disable.set_defaults(func=disable_cmd)


def _options(args: argparse.Namespace) -> Any:
    from facematch.flows.partners import PartnerOptions

    def onoff(value: str | None, on: str) -> bool | None:
        return None if value is None else value == on

    headers = None
    if args.reference_header:
        headers = {}
        for item in args.reference_header:
            name, _, value = item.partition(":")
            headers[name.strip()] = value.strip()
    return PartnerOptions(
        onboarding_partners=args.onboarding_partner,
        reference_hosts=args.reference_host,
        reference_headers=headers,
        frame_origins=args.frame_origin,
        max_attempts=args.max_attempts,
        show_status_screen=onoff(args.status_screen, "show"),
        allow_qr=onoff(args.allow_qr, "on"),
        force_qr=onoff(args.force_qr, "on"),
    )


@contextmanager
def _session() -> Iterator[tuple[Any, Any]]:
    """(settings, session) for one command; the connection pool is closed afterwards."""
    from facematch.config import get_settings
    from facematch.storage.db import Database

    settings = get_settings()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            yield settings, session
    finally:
        db.dispose()


def _partner(session: Any, client_id: str) -> Any:
    from facematch.errors import FacematchError
    from facematch.storage import repo

    partner = repo.partner_by_client_id(client_id, session=session)
    if partner is None:
        raise FacematchError(f"no partner with client-id {client_id}", code="PARTNER_NOT_FOUND")
    return partner


def _review_band(args: argparse.Namespace, settings: Any, partner_id: str, session: Any) -> None:
    """Apply ``--review-band`` (and its deadline and default) when given."""
    if args.review_band is None:
        return
    import getpass

    from facematch.flows import review
    from facematch.flows.review_band import Band

    band = None
    if args.review_band != "off":
        as_far = args.review_band.strip().lower().startswith("far:")
        low, high = review.parse_band(args.review_band, review.calibration_for(settings) if as_far else None)
        deadline = round(args.review_deadline_h * 3600) if args.review_deadline_h else None
        band = Band(low, high, deadline, (args.review_default or "reject").upper())
    review.apply_policy(partner_id, band, actor=f"cli:{getpass.getuser()}", session=session)


def create_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as (settings, session):
        created = partners.create_partner(
            args.name,
            _options(args),
            session=session,
            default_max_attempts=settings.submissions.default_max_attempts,
        )
        _review_band(args, settings, created.partner.id, session)
        print(f"client-id:      {created.partner.client_id}")
        print(f"pass-key:       {created.passkey}")
        print(f"webhook secret: {created.webhook_secret}")
        print("The pass-key is shown only now; store it safely.")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    from facematch.storage import repo

    with _session() as (_, session):
        for partner in repo.list_partners(session=session):
            state = "disabled" if partner.disabled else "enabled"
            print(f"{partner.client_id}  {state:8}  {partner.name}")
    return 0


def _shown(partner: Any, session: Any) -> str:
    """The partner as ``describe`` shows it, with its review band."""
    from facematch.flows import partners
    from facematch.storage.models import ReviewPolicy

    data = partners.describe(partner)
    policy = session.get(ReviewPolicy, partner.id)
    data["reviewBand"] = (
        None
        if policy is None
        else {
            "low": policy.band_low,
            "high": policy.band_high,
            "deadlineS": policy.deadline_s,
            "default": policy.default_outcome,
        }
    )
    return json.dumps(data, indent=2)


def show_cmd(args: argparse.Namespace) -> int:
    with _session() as (_, session):
        print(_shown(_partner(session, args.client_id), session))
    return 0


def update_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as (settings, session):
        partner = _partner(session, args.client_id)
        partners.apply_options(partner, _options(args))
        _review_band(args, settings, partner.id, session)
        session.flush()
        print(_shown(partner, session))
    return 0


def rotate_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as (settings, session):
        overlap = settings.tokens.passkey_overlap_s if args.overlap_s is None else args.overlap_s
        passkey = partners.rotate_passkey(_partner(session, args.client_id), overlap_s=overlap)
    print(f"pass-key: {passkey}")
    print(
        f"The previous pass-key stays valid for {overlap} s."
        if overlap
        else "The previous pass-key is revoked."
    )
    return 0


def callback_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners, webhooks

    with _session() as (_, session):
        partner = _partner(session, args.client_id)
        partners.set_callback(partner, args.url, method=args.method, auth_header=args.auth_header)
        if args.new_secret:
            partner.webhook_secret = webhooks.generate_secret()
            print(f"webhook secret: {partner.webhook_secret}")
    print(f"callback: {args.method} {args.url}" if args.url else "callback cleared")
    return 0


def disable_cmd(args: argparse.Namespace) -> int:
    with _session() as (_, session):
        partner = _partner(session, args.client_id)
        partner.disabled = not args.enable
    print("enabled" if args.enable else "disabled")
    return 0
