"""``facematch serve [--dev] [--no-migrate]``: migrate, (development) seed a demo partner, serve the API.

The real face engine is loaded at start-up; ``/readyz`` answers 200 once it is.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

DEMO_ONBOARDING = "DEMO-WEB_SDK-FACE_MATCH"
DEMO_BE_ONBOARDING = "DEMO-BE-FACE_MATCH"
DEMO_SITE = "http://127.0.0.1:8001"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the partner API (migrates first unless --no-migrate)")
    parser.add_argument("--dev", action="store_true", help="development mode: generated keys, demo partner")
    parser.add_argument("--host", default=None, help="bind address (default: settings server.host)")
    parser.add_argument("--port", type=int, default=None, help="port (default: settings server.port)")
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate the database at start (run `facematch db upgrade`)",
    )
    parser.set_defaults(func=run)


def seed_demo_partner(settings: Any, credentials_path: Path) -> dict[str, str] | None:
    """Create the demo partner once; its pass-key is printed and written (0600) only then."""
    from facematch.cli.runtime import services
    from facematch.flows import partners

    if credentials_path.is_file():
        return None
    with services(settings) as svc, svc.db.session() as session:
        options = partners.PartnerOptions(
            onboarding_partners=[DEMO_ONBOARDING, DEMO_BE_ONBOARDING],
            reference_hosts=["127.0.0.1", "localhost"],
            frame_origins=[DEMO_SITE],
        )
        created = partners.create_partner(
            "Demo Partner",
            options,
            session=session,
            box=svc.secrets,
            default_max_attempts=settings.submissions.default_max_attempts,
        )
        partners.set_callback(
            created.partner, f"{DEMO_SITE}/webhook", box=svc.secrets, policy=svc.callback_policy
        )
        values = {
            "clientId": created.partner.client_id,
            "passKey": created.passkey,
            "webhookSecret": created.webhook_secret,
            "onboardingPartner": DEMO_ONBOARDING,
        }
    credentials_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(credentials_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle, indent=2)
    return values


DEMO_ADMIN = "admin@facematch.local"


def seed_demo_admin(settings: Any, credentials_path: Path) -> dict[str, str] | None:
    """Development: a first console admin (TOTP is set up at its first login), written 0600 once."""
    from facematch.cli.runtime import services
    from facematch.flows.console import operators

    if credentials_path.is_file():
        return None
    with services(settings) as svc:
        if operators.list_operators(svc):
            return None
        created = operators.create_operator(
            svc, DEMO_ADMIN, operators.OperatorRole.ADMIN, actor="system:dev-seed"
        )
    assert created.password is not None
    values = {"email": DEMO_ADMIN, "password": created.password}
    fd = os.open(credentials_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle, indent=2)
    return values


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from facematch.api.app import create_app
    from facematch.api.server import server_config
    from facematch.config import Settings
    from facematch.logs import configure_logging
    from facematch.security.capacity import tune_allocator
    from facematch.services import secret_box
    from facematch.storage.db import migrate

    if args.dev:
        # the app is built from the environment again below, so --dev speaks through it too
        os.environ["FACEMATCH_ENVIRONMENT"] = "development"
    settings = Settings()
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    if args.host or args.port:
        os.environ.setdefault("FACEMATCH_SERVER__PUBLIC_URL", f"http://{host}:{port}")
    configure_logging()
    if settings.limits.release_memory:
        tune_allocator()
    if not args.no_migrate:
        migrate(settings.database_url, secret_box=secret_box(settings))
    if settings.development:
        seeded = seed_demo_partner(settings, settings.data_dir / "demo-partner.json")
        if seeded:
            print("Demo partner created (shown once; also in var/demo-partner.json, mode 0600):")
            print(f"  client-id:  {seeded['clientId']}")
            print(f"  pass-key:   {seeded['passKey']}")
            print(f"  webhook secret: {seeded['webhookSecret']}")
            print(f"  x-onboarding-partner: {DEMO_ONBOARDING} (web) / {DEMO_BE_ONBOARDING} (backend)")
        admin = (
            seed_demo_admin(settings, settings.data_dir / "demo-operator.json")
            if settings.console.enabled
            else None
        )
        if admin:
            print(
                "Console admin created (also in var/demo-operator.json, mode 0600; TOTP at the first login):"
            )
            print(f"  http://{host}:{port}/console  e-mail {admin['email']}  password {admin['password']}")
    print(f"facematch on http://{host}:{port} (OpenAPI docs at /docs)", flush=True)
    # the app reads the environment again, so that --dev and --port reach it as they reach us
    app = create_app(Settings())
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()
    return 0
