"""Jobs know their partner (fair claims across partners)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("partner_id", sa.String(length=36), nullable=True))
    op.execute(
        "UPDATE jobs SET partner_id = (SELECT submissions.partner_id FROM submissions "
        "WHERE submissions.id = jobs.submission_id)"
    )
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("partner_id", existing_type=sa.String(length=36), nullable=False)
        batch.create_foreign_key("fk_jobs_partner_id_partners", "partners", ["partner_id"], ["id"])
        batch.create_index("ix_jobs_partner_state", ["partner_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_partner_state")
        batch.drop_constraint("fk_jobs_partner_id_partners", type_="foreignkey")
        batch.drop_column("partner_id")
