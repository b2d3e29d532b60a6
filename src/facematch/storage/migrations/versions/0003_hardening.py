"""Partner secrets sealed at rest, token generations, capped refused captures

Revision ID: 0003
Revises: 0002

Existing partners' webhook secrets, callback auth headers and reference headers are sealed with
the key the caller passes in (``facematch db upgrade`` uses FACEMATCH_BLOBS__KEY).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _box() -> Any:  # a facematch.storage.sealed.SecretBox
    box = context.config.attributes.get("secret_box")
    if box is None:
        raise RuntimeError(
            "sealing the partners' secrets needs the blob key (FACEMATCH_BLOBS__KEY): "
            "run `facematch db upgrade` with the service's settings"
        )
    return box


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("token_generation", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("callback_auth_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("callback_auth_sealed", sa.Text(), nullable=True))
        batch.add_column(sa.Column("webhook_secret_sealed", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reference_header_names", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("reference_headers_sealed", sa.Text(), nullable=True))
    with op.batch_alter_table("flow_sessions") as batch:
        batch.add_column(sa.Column("refused_captures", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("token_generation", sa.Integer(), nullable=False, server_default="1"))

    bind = op.get_bind()
    partners = sa.table(
        "partners",
        sa.column("id", sa.String),
        sa.column("webhook_secret", sa.String),
        sa.column("callback_auth_header", sa.String),
        sa.column("reference_headers", sa.JSON),
        sa.column("callback_auth_name", sa.String),
        sa.column("callback_auth_sealed", sa.Text),
        sa.column("webhook_secret_sealed", sa.Text),
        sa.column("reference_header_names", sa.JSON),
        sa.column("reference_headers_sealed", sa.Text),
    )
    rows = bind.execute(
        sa.select(
            partners.c.id,
            partners.c.webhook_secret,
            partners.c.callback_auth_header,
            partners.c.reference_headers,
        )
    ).all()
    box: Any = _box() if rows else None
    for partner_id, secret, auth_header, headers in rows:
        values: dict[str, Any] = {
            "webhook_secret_sealed": box.seal(secret, context=f"partner:{partner_id}:webhook_secret"),
            "reference_header_names": sorted(headers or {}),
            "reference_headers_sealed": box.seal(
                json.dumps(headers, sort_keys=True), context=f"partner:{partner_id}:reference_headers"
            )
            if headers
            else None,
        }
        if auth_header:
            name, _, value = auth_header.partition(":")
            values["callback_auth_name"] = name.strip()
            values["callback_auth_sealed"] = box.seal(
                value.strip(), context=f"partner:{partner_id}:callback_auth"
            )
        bind.execute(partners.update().where(partners.c.id == partner_id).values(**values))

    with op.batch_alter_table("partners") as batch:
        batch.alter_column("webhook_secret_sealed", existing_type=sa.Text(), nullable=False)
        batch.alter_column("reference_header_names", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("token_generation", server_default=None)
        batch.drop_column("webhook_secret")
        batch.drop_column("callback_auth_header")
        batch.drop_column("reference_headers")
    with op.batch_alter_table("flow_sessions") as batch:
        batch.alter_column("refused_captures", server_default=None)
    with op.batch_alter_table("handoffs") as batch:
        batch.alter_column("token_generation", server_default=None)


def downgrade() -> None:
    raise NotImplementedError("partner secrets cannot be unsealed by a migration")
