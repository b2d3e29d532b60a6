"""Partner secrets sealed at rest, the migration that seals existing ones, and private database files."""

from __future__ import annotations

import base64
import stat
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from facematch.flows import partners
from facematch.storage import partner_repo
from facematch.storage.db import Database, migrate
from facematch.storage.sealed import SealedValueError, SecretBox
from servicekit import CALLBACK_POLICY, SECRET_BOX

K1, K2 = b"1" * 32, b"2" * 32


def test_seal_and_open() -> None:
    box = SecretBox(key=K1, key_id="k1")
    sealed = box.seal("whsec_abc", context="partner:p:webhook_secret")
    assert "whsec_abc" not in sealed and sealed.startswith("fms1:k1:")
    assert box.open(sealed, context="partner:p:webhook_secret") == "whsec_abc"
    assert box.seal("whsec_abc", context="c") != box.seal("whsec_abc", context="c")  # fresh nonces
    with pytest.raises(SealedValueError):
        box.open(sealed, context="partner:q:webhook_secret")  # copied into another row
    with pytest.raises(SealedValueError):
        SecretBox(key=K2, key_id="k1").open(sealed, context="partner:p:webhook_secret")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SealedValueError):
        box.open(tampered, context="partner:p:webhook_secret")
    for junk in ("", "plain text", "fms1:k9:AAAA", "fms1:k1:!!!"):
        with pytest.raises(SealedValueError):
            box.open(junk, context="partner:p:webhook_secret")


def test_a_rotated_key_still_opens_old_values_and_reseal_moves_them() -> None:
    old = SecretBox(key=K1, key_id="k1")
    partner = partners.create_partner("p", partners.PartnerOptions(), session=_NoSession(), box=old).partner
    partners.set_callback(
        partner, "https://partner.example/hook", box=old, policy=CALLBACK_POLICY, auth_header="X-Key: v1"
    )
    partners.apply_options(partner, partners.PartnerOptions(reference_headers={"X-Ref": "r"}), box=old)
    secret = partners.webhook_secret(partner, box=old)
    new = SecretBox(key=K2, key_id="k2", previous={"k1": K1})
    assert partners.webhook_secret(partner, box=new) == secret
    assert partners.reseal(partner, box=new) is True
    assert partners.reseal(partner, box=new) is False
    only_new = SecretBox(key=K2, key_id="k2")
    assert partners.webhook_secret(partner, box=only_new) == secret
    assert partners.callback_auth(partner, box=only_new) == ("X-Key", "v1")
    assert partners.reference_headers(partner, box=only_new) == {"X-Ref": "r"}


class _NoSession:
    def add(self, _: object) -> None:
        pass

    def flush(self) -> None:
        pass


def test_secrets_are_not_stored_in_clear(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as session:
            created = partners.create_partner(
                "Sealed partner",
                partners.PartnerOptions(reference_headers={"X-Api-Key": "reference-header-value-42"}),
                session=session,
                box=SECRET_BOX,
            )
            partners.set_callback(
                created.partner,
                "https://partner.example/hook",
                box=SECRET_BOX,
                policy=CALLBACK_POLICY,
                auth_header="Authorization: Bearer callback-auth-value-42",
            )
            partner_id = created.partner.id
        with db.engine.connect() as connection:
            row = connection.execute(text("SELECT * FROM partners WHERE id = :id"), {"id": partner_id}).one()
        stored = " ".join(str(value) for value in row)
        for secret in (created.webhook_secret, "reference-header-value-42", "callback-auth-value-42"):
            assert secret not in stored
        with db.session() as session:
            partner = partner_repo.partner_by_id(partner_id, session=session)
            assert partner is not None
            assert partners.webhook_secret(partner, box=SECRET_BOX) == created.webhook_secret
            assert partners.describe(partner)["referenceHeaders"] == ["X-Api-Key"]
    finally:
        db.dispose()


def _upgrade_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("facematch.storage") / "migrations"))
    config.attributes["url"] = url
    command.upgrade(config, revision)


def test_the_migration_seals_the_secrets_of_existing_partners(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _upgrade_to(url, "0002")
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO partners (id, client_id, name, passkey_hash, disabled, onboarding_partners, "
                "callback_url, callback_method, callback_auth_header, webhook_secret, reference_hosts, "
                "reference_headers, frame_origins, max_attempts, show_status_screen, allow_qr, force_qr, "
                "created_at) VALUES ('p1', 'c1', 'Old', 'h', 0, '[]', 'https://p.example/hook', 'POST', "
                "'Authorization: Bearer old-auth', 'whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LTEyMzQ=', '[]', "
                "'{\"X-Ref\": \"old-ref\"}', '[]', 3, 1, 0, 0, '2026-01-01 00:00:00')"
            )
        )
    db.dispose()
    with pytest.raises(RuntimeError, match="FACEMATCH_BLOBS__KEY"):
        migrate(url)  # existing secrets and no key: refused, nothing half-done
    box = SecretBox(key=base64.b64decode(base64.b64encode(K1)), key_id="k1")
    migrate(url, secret_box=box)
    db = Database(url)
    try:
        with db.session() as session:
            partner = partner_repo.partner_by_id("p1", session=session)
            assert partner is not None and partner.token_generation == 1
            assert partners.webhook_secret(partner, box=box) == "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LTEyMzQ="
            assert partners.callback_auth(partner, box=box) == ("Authorization", "Bearer old-auth")
            assert partners.reference_headers(partner, box=box) == {"X-Ref": "old-ref"}
        with db.engine.connect() as connection:
            columns = {row[1] for row in connection.execute(text("PRAGMA table_info(partners)"))}
        assert not {"webhook_secret", "callback_auth_header", "reference_headers"} & columns
    finally:
        db.dispose()


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "facematch.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        created = [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        assert path in created and len(created) == 2
        for file in created:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        db.dispose()
    path.chmod(0o644)  # an existing, too-open file is narrowed at the next start
    Database(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
