"""the state index holds the unfinished instances only

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every instance entered the state index at its start and moved within it at its end (a delete and an insert,
    # three pages a run), and the index grew with every instance ever run; queries by state want the running or
    # suspended ones, whose end is not set
    op.drop_index('ix_instance_state', table_name='process_instance')
    op.create_index('ix_instance_unfinished', 'process_instance', ['state', 'started_at'],
                    postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_instance_unfinished', table_name='process_instance')
    op.create_index('ix_instance_state', 'process_instance', ['state'])
