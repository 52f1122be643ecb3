"""an index of the tasks with variables of their own; no variables is SQL NULL, not JSON null

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a task whose last own variable was removed kept the JSON text `null` (the column's type wrote None so)
    op.execute("UPDATE human_task SET local_variables = NULL WHERE CAST(local_variables AS TEXT) = 'null'")
    op.create_index('ix_task_with_local_variables', 'human_task', ['id'],
                    postgresql_where=sa.text('local_variables IS NOT NULL'),
                    sqlite_where=sa.text('local_variables IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_task_with_local_variables', table_name='human_task')
