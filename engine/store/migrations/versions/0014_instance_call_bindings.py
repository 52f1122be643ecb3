"""the versions of the processes an instance calls, when not those its definition was deployed with

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 22:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bindings', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_column('bindings')
