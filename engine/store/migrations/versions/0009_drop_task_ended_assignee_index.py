"""drop ix_task_active_assignee_created: the partial indexes of open tasks serve every query it served

The inbox's lists and counts read open tasks (`ended_at IS NULL`) through `ix_task_open_created`,
`ix_task_open_unassigned_created` and `ix_task_open_assigned` (0002, 0005); the history's task queries filter on
`coalesce(assignee, completed_by)`, which this index cannot serve. It still cost every start and completion of a
user task three of the pages a step writes (about 10% of them in bench/engine_throughput.py), and its plans
were measured unchanged without it (bench/inbox_list.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:00:00
"""

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_active_assignee_created')


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_task_active_assignee_created', ['ended_at', 'assignee', 'created_at'],
                              unique=False)
