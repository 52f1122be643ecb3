"""the element a job's last try failed at (Camunda's failedActivityId), on jobs and their incidents

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 03:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('job', 'incident'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('failed_element_id', sa.String(length=255), nullable=True))


def downgrade() -> None:
    for table in ('job', 'incident'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('failed_element_id')
