"""task-local variables (Camunda's /task/{id}/localVariables)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 22:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('local_variables', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_column('local_variables')
