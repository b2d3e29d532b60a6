"""liveness: the partner's switch, the session's mode, an attempt's challenge and clip, and the
hosted flow's challenge frames until the verdict; the unused console login throttles table goes
(failed logins are counted in the shared limits storage)

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("login_throttles")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("liveness", sa.String(length=16), nullable=False, server_default="off"))
    with op.batch_alter_table("flow_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("liveness", sa.String(length=16), nullable=False, server_default="off"))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("liveness_challenge", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("liveness_blob", sa.String(length=64), nullable=True))
    op.create_table(
        "liveness_frames",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seen", sa.JSON(), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("liveness_frames", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_liveness_frames_submission_id"), ["submission_id"])


def downgrade() -> None:
    with op.batch_alter_table("liveness_frames", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_liveness_frames_submission_id"))
    op.drop_table("liveness_frames")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("liveness_blob")
        batch_op.drop_column("liveness_challenge")
    with op.batch_alter_table("flow_sessions", schema=None) as batch_op:
        batch_op.drop_column("liveness")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("liveness")
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("window_started_at", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
