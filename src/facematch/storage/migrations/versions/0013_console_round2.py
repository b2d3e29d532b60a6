"""console round 2: review claims, operators' time zones, indexes for the one search box and the
audit log's date range

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("flow_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_sessions_partner_session_id"), ["partner_session_id"])
        batch_op.create_index(batch_op.f("ix_flow_sessions_partner_user_id"), ["partner_user_id"])
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
    with op.batch_alter_table("flow_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_sessions_partner_user_id"))
        batch_op.drop_index(batch_op.f("ix_flow_sessions_partner_session_id"))
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
