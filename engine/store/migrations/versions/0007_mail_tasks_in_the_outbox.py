"""mail tasks in the outbox: a letter's sender, copies, blind copies and HTML body

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('cc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('bcc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('html', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('html')
        batch_op.drop_column('bcc')
        batch_op.drop_column('cc')
        batch_op.drop_column('sender')
