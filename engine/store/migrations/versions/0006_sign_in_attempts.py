"""sign-in attempts: wrong passwords since the last success, and the time before which sign-in is refused

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch:
        batch.add_column(sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch:
        batch.drop_column('locked_until')
        batch.drop_column('failed_attempts')
