"""``facematch callbacks list|resend``: the completion-callback outbox and its delivery log."""

from __future__ import annotations

import argparse
import json
from typing import Any

from facematch.cli.runtime import services
from facematch.rules.states import DeliveryState


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("callbacks", help="inspect and resend completion callbacks")
    commands = parser.add_subparsers(dest="callbacks_command", required=True)
    listing = commands.add_parser("list", help="messages, newest first, with their delivery log")
    listing.add_argument("--status", choices=tuple(DeliveryState), default=None)
    listing.add_argument("--client-id", default=None)
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=list_cmd)
    resend = commands.add_parser("resend", help="put a message back on the schedule (same webhook-id)")
    resend.add_argument("message_id")
    resend.set_defaults(func=resend_cmd)


def list_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import outbox
    from facematch.storage import partner_repo

    with services() as svc:
        partner_id = None
        if args.client_id:
            with svc.db.session() as session:
                partner = partner_repo.partner_by_client_id(args.client_id, session=session)
                partner_id = partner.id if partner else "-"
        print(json.dumps(outbox.describe(svc, args.status, partner_id, limit=args.limit), indent=2))
    return 0


def resend_cmd(args: argparse.Namespace) -> int:
    from facematch.flows import outbox

    with services() as svc:
        outbox.resend(svc, args.message_id)
    print(f"{args.message_id} queued for delivery")
    return 0
