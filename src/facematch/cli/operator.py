"""``facematch operator create|list|disable|reset-password|unlock``: the console's operators.

A first password is generated and printed once (or read from stdin with ``--password-stdin``);
admins and reviewers set up their TOTP second factor at the first login. Every change is audited
with the actor ``cli:<user>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from facematch.cli.runtime import services


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("operator", help="manage console operators (admin, reviewer, viewer)")
    commands = parser.add_subparsers(dest="operator_command", required=True)
    create = commands.add_parser("create", help="create an operator (prints a first password once)")
    create.add_argument("email")
    create.add_argument("--role", required=True, choices=("admin", "reviewer", "viewer"))
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin instead of generating one"
    )
    create.set_defaults(func=create_cmd)
    commands.add_parser("list", help="list operators").set_defaults(func=list_cmd)
    disable = commands.add_parser("disable", help="disable an operator (every session ends at once)")
    disable.add_argument("email")
    disable.add_argument("--enable", action="store_true", help="enable it again")
    disable.set_defaults(func=disable_cmd)
    reset = commands.add_parser("reset-password", help="a new temporary password (ends every session)")
    reset.add_argument("email")
    reset.add_argument("--reset-totp", action="store_true", help="also make them enrol a new second factor")
    reset.set_defaults(func=reset_cmd)
    unlock = commands.add_parser("unlock", help="forget an operator's failed logins (their delay ends)")
    unlock.add_argument("email")
    unlock.set_defaults(func=unlock_cmd)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def create_cmd(args: argparse.Namespace) -> int:
    from facematch.flows.console import operators

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    with services() as svc:
        created = operators.create_operator(
            svc, args.email, operators.parse_role(args.role), actor=_actor(), password=password
        )
    print(f"operator: {created.operator.email} ({created.operator.role.value})")
    if created.password:
        print(f"password: {created.password}")
        print("Shown only now; it must be changed at the first login.")
    if created.operator.role in operators.TOTP_REQUIRED:
        print("Two-factor login (TOTP) is set up at the first login.")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    from facematch.flows.console import operators

    with services() as svc:
        for operator in operators.list_operators(svc):
            state = "disabled" if operator.disabled else "active"
            totp = "totp" if operator.totp_enabled else "no-totp"
            last = operator.last_login_at.isoformat(timespec="seconds") if operator.last_login_at else "never"
            print(f"{operator.email:40} {operator.role.value:9} {state:9} {totp:8} last login {last}")
    return 0


def disable_cmd(args: argparse.Namespace) -> int:
    from facematch.flows.console import operators

    with services() as svc:
        operators.set_disabled(svc, args.email, not args.enable, actor=_actor())
    print("enabled" if args.enable else "disabled; every session of this operator has ended")
    return 0


def reset_cmd(args: argparse.Namespace) -> int:
    from facematch.flows.console import operators

    with services() as svc:
        password = operators.reset_password(svc, args.email, actor=_actor(), reset_totp=args.reset_totp)
    print(f"password: {password}")
    print("Shown only now; it must be changed at the next login. Every session has ended.")
    if args.reset_totp:
        print("A new second factor is enrolled at the next login.")
    return 0


def unlock_cmd(args: argparse.Namespace) -> int:
    from facematch.flows.console import operators

    with services() as svc:
        operators.unlock(svc, args.email, actor=_actor())
    print("unlocked: its failed logins are forgotten, any browser may log in again")
    return 0
