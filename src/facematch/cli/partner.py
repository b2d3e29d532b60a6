"""``facematch partner create|list|show|update|rotate-key|set-callback|disable|reseal``.

Pass-keys and webhook secrets are printed once (on create, rotate-key and with --new-secret) and
stored hashed (pass-keys) or sealed with the data key (secrets).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from facematch.rules.partner_settings import SETTINGS


def _options_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onboarding-partner", action="append", help="allowed x-onboarding-partner (repeat)")
    parser.add_argument("--reference-host", action="append", help="allowed referenceImageUrl host (repeat)")
    parser.add_argument(
        "--reference-header", action="append", help="'Name: value' sent with reference fetches"
    )
    parser.add_argument(
        "--frame-origin", action="append", help="origin allowed to frame the web app (repeat)"
    )
    for setting in SETTINGS:
        if setting.kind is bool or setting.kind is str:
            parser.add_argument(setting.flag, dest=setting.name, choices=setting.words, help=setting.help)
        else:
            parser.add_argument(setting.flag, dest=setting.name, type=int, help=setting.help)
    parser.add_argument(
        "--privacy-url", help="the partner's privacy policy, linked on the consent screen ('' clears)"
    )
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
    create.add_argument(
        "--sandbox", action="store_true", help="a sandbox partner: forced outcomes, results marked sandbox"
    )
    create.set_defaults(func=create_cmd)
    commands.add_parser("list", help="list partners").set_defaults(func=list_cmd)
    show = commands.add_parser("show", help="show a partner's settings (no secrets)")
    show.add_argument("client_id")
    show.set_defaults(func=show_cmd)
    update = commands.add_parser("update", help="change a partner's settings")
    update.add_argument("client_id")
    _options_arguments(update)
    update.add_argument("--sandbox", choices=("on", "off"), help="sandbox mode (see README, Sandbox)")
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
    commands.add_parser(
        "reseal", help="seal every partner's secrets again with the current key (after a key rotation)"
    ).set_defaults(func=reseal_cmd)


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
    settings: dict[str, Any] = {
        s.name: onoff(getattr(args, s.name), s.words[0]) if s.kind is bool else getattr(args, s.name)
        for s in SETTINGS
    }
    return PartnerOptions(
        onboarding_partners=args.onboarding_partner,
        reference_hosts=args.reference_host,
        reference_headers=headers,
        frame_origins=args.frame_origin,
        privacy_url=args.privacy_url,
        sandbox=args.sandbox if isinstance(args.sandbox, bool) else onoff(args.sandbox, "on"),
        **settings,
    )


@dataclass(frozen=True)
class _Context:
    settings: Any
    session: Any
    box: Any
    """What seals the partners' secrets (facematch.storage.sealed.SecretBox)."""
    callback_policy: Any
    """Where callbacks may go (facematch.outbound.safe_http.FetchPolicy)."""


@contextmanager
def _session() -> Iterator[_Context]:
    """The settings, a database session and the secret box of the deployment's services, for one
    command."""
    from facematch.cli.runtime import services

    with services() as svc, svc.db.session() as session:
        yield _Context(svc.settings, session, svc.secrets, svc.callback_policy)


def _partner(session: Any, client_id: str) -> Any:
    from facematch.errors import FacematchError
    from facematch.storage import partner_repo

    partner = partner_repo.partner_by_client_id(client_id, session=session)
    if partner is None:
        raise FacematchError(f"no partner with client-id {client_id}", code="PARTNER_NOT_FOUND")
    return partner


def _review_band(args: argparse.Namespace, settings: Any, partner_id: str, session: Any) -> None:
    """Apply ``--review-band`` (and its deadline and default) when given."""
    if args.review_band is None:
        return
    import getpass

    from facematch.flows import review
    from facematch.rules.review_band import Band
    from facematch.rules.states import ReviewOutcome

    band = None
    if args.review_band != "off":
        as_far = args.review_band.strip().lower().startswith("far:")
        low, high = review.parse_band(args.review_band, review.calibration_for(settings) if as_far else None)
        deadline = round(args.review_deadline_h * 3600) if args.review_deadline_h else None
        band = Band(low, high, deadline, ReviewOutcome((args.review_default or "reject").upper()))
    review.apply_policy(partner_id, band, actor=f"cli:{getpass.getuser()}", session=session)


def create_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as ctx:
        created = partners.create_partner(
            args.name,
            _options(args),
            session=ctx.session,
            box=ctx.box,
            default_max_attempts=ctx.settings.submissions.default_max_attempts,
        )
        _review_band(args, ctx.settings, created.partner.id, ctx.session)
        print(f"client-id:      {created.partner.client_id}")
        print(f"pass-key:       {created.passkey}")
        print(f"webhook secret: {created.webhook_secret}")
        print("The pass-key is shown only now; store it safely.")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    from facematch.storage import partner_repo

    with _session() as ctx:
        for partner in partner_repo.list_partners(session=ctx.session):
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
    with _session() as ctx:
        print(_shown(_partner(ctx.session, args.client_id), ctx.session))
    return 0


def update_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as ctx:
        partner = _partner(ctx.session, args.client_id)
        partners.apply_options(partner, _options(args), box=ctx.box)
        _review_band(args, ctx.settings, partner.id, ctx.session)
        ctx.session.flush()
        print(_shown(partner, ctx.session))
    return 0


def rotate_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as ctx:
        overlap = ctx.settings.tokens.passkey_overlap_s if args.overlap_s is None else args.overlap_s
        passkey = partners.rotate_passkey(_partner(ctx.session, args.client_id), overlap_s=overlap)
    print(f"pass-key: {passkey}")
    print(
        f"The previous pass-key and the tokens minted so far stay valid for {overlap} s."
        if overlap
        else "The previous pass-key and every token minted with it are revoked."
    )
    return 0


def callback_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as ctx:
        partner = _partner(ctx.session, args.client_id)
        partners.set_callback(
            partner,
            args.url,
            box=ctx.box,
            policy=ctx.callback_policy,
            method=args.method,
            auth_header=args.auth_header,
        )
        if args.new_secret:
            print(f"webhook secret: {partners.new_webhook_secret(partner, box=ctx.box)}")
    print(f"callback: {args.method} {args.url}" if args.url else "callback cleared")
    return 0


def disable_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners

    with _session() as ctx:
        partners.set_disabled(_partner(ctx.session, args.client_id), not args.enable)
    print("enabled (tokens minted before the disable stay revoked)" if args.enable else "disabled")
    return 0


def reseal_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import partners
    from facematch.storage import partner_repo

    with _session() as ctx:
        count = sum(partners.reseal(p, box=ctx.box) for p in partner_repo.list_partners(session=ctx.session))
    print(f"sealed the secrets of {count} partners again with key {ctx.box.key_id}")
    return 0
