"""fewer pages a step writes: the state index holds the unfinished instances only; SQLite's variables without rowid

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
    # three pages a run); queries by state want the running or suspended ones, whose end is not set
    op.drop_index('ix_instance_state', table_name='process_instance')
    op.create_index('ix_instance_unfinished', 'process_instance', ['state', 'started_at'],
                    postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
    if op.get_bind().dialect.name == 'sqlite':
        # the table ordered by its key (instance, name) itself, instead of by a rowid with that key in an index
        # of its own: one b-tree fewer to write a page of at every save that sets a variable
        with op.batch_alter_table('variable', recreate='always',
                                  table_kwargs={'sqlite_with_rowid': False}) as batch_op:
            batch_op.alter_column('name', existing_type=sa.String(255))  # (nothing changes but the table's kind)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('variable', recreate='always') as batch_op:
            batch_op.alter_column('name', existing_type=sa.String(255))
    op.drop_index('ix_instance_unfinished', table_name='process_instance')
    op.create_index('ix_instance_state', 'process_instance', ['state'])
