"""Partner settings for the hosted flow and the sandbox; sandbox partner sessions

Revision ID: 0011
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("privacy_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("sandbox", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("auto_capture", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("retry_window_s", sa.Integer(), nullable=False, server_default="600"))
    with op.batch_alter_table("flow_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sandbox", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("flow_sessions", schema=None) as batch_op:
        batch_op.drop_column("sandbox")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("retry_window_s")
        batch_op.drop_column("auto_capture")
        batch_op.drop_column("sandbox")
        batch_op.drop_column("privacy_url")
