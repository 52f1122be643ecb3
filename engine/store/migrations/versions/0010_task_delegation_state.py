"""a task's delegation state (PENDING, RESOLVED), as Camunda's task has it next to its owner

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delegation_state', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_column('delegation_state')
