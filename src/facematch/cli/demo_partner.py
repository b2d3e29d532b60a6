"""``facematch demo-partner``: the demo partner site on http://127.0.0.1:8001 (see README, "Web SDK").

Credentials come from a JSON file (``clientId``, ``passKey``, ``webhookSecret``, ``onboardingPartner``;
``facematch serve --dev`` writes ``var/demo-partner.json``) or from the environment
(``DEMO_CLIENT_ID``, ``DEMO_PASS_KEY``, ``DEMO_WEBHOOK_SECRET``, ``DEMO_ONBOARDING_PARTNER``), never from
the command line, where other users could read them.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

DEFAULT_CREDENTIALS = Path("var/demo-partner.json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo-partner", help="run the demo partner site (Web SDK integration)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--facematch-url", default="http://127.0.0.1:8000", help="facematch's base URL")
    parser.add_argument("--public-url", default=None, help="this site's URL as browsers see it")
    parser.add_argument("--credentials", type=Path, default=DEFAULT_CREDENTIALS, help="JSON credentials file")
    parser.add_argument("--name", default="Demo Partner", help="the partner's display name")
    parser.set_defaults(func=run)


def load_credentials(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.is_file():
        values.update({k: str(v) for k, v in json.loads(path.read_text()).items()})
    for key, env in (
        ("clientId", "DEMO_CLIENT_ID"),
        ("passKey", "DEMO_PASS_KEY"),
        ("webhookSecret", "DEMO_WEBHOOK_SECRET"),
        ("onboardingPartner", "DEMO_ONBOARDING_PARTNER"),
    ):
        if os.environ.get(env):
            values[key] = os.environ[env]
    return values


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from facematch.demo_partner.app import DemoConfig, create_demo_app
    from facematch.demo_partner.client import PartnerCredentials

    values = load_credentials(args.credentials)
    missing = [k for k in ("clientId", "passKey", "webhookSecret", "onboardingPartner") if not values.get(k)]
    if missing:
        print(f"facematch demo-partner: missing credentials {', '.join(missing)} (see --credentials)")
        return 2
    config = DemoConfig(
        facematch_url=args.facematch_url,
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        credentials=PartnerCredentials(
            client_id=values["clientId"],
            pass_key=values["passKey"],
            onboarding_partner=values["onboardingPartner"],
            webhook_secret=values["webhookSecret"],
        ),
        partner_name=args.name,
    )
    uvicorn.run(create_demo_app(config), host=args.host, port=args.port, log_level="warning")
    return 0
