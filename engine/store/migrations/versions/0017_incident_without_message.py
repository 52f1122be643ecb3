"""an incident may have no message (Camunda's failed external task whose worker gave none)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.alter_column('message', existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE incident SET message = '' WHERE message IS NULL")
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.alter_column('message', existing_type=sa.Text(), nullable=False)
