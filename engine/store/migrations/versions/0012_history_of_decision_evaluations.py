"""history of decision evaluations (Camunda's historic decision instances)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 21:23:11.386947
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('decision_instance',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('decision_definition_id', sa.String(length=64), nullable=True),
    sa.Column('decision_key', sa.String(length=255), nullable=False),
    sa.Column('decision_name', sa.String(length=255), nullable=True),
    sa.Column('root_id', sa.String(length=64), nullable=True),
    sa.Column('instance_id', sa.String(length=64), nullable=True),
    sa.Column('process_definition_id', sa.String(length=64), nullable=True),
    sa.Column('process_definition_key', sa.String(length=255), nullable=True),
    sa.Column('element_id', sa.String(length=255), nullable=True),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('outputs', sa.JSON(), nullable=False),
    sa.Column('collect_result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('decision_instance', schema=None) as batch_op:
        batch_op.create_index('ix_decision_instance_definition', ['decision_key', 'evaluated_at'], unique=False)
        batch_op.create_index('ix_decision_instance_evaluated', ['evaluated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_instance_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decision_instance_root_id'), ['root_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('decision_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_instance_root_id'))
        batch_op.drop_index(batch_op.f('ix_decision_instance_instance_id'))
        batch_op.drop_index('ix_decision_instance_evaluated')
        batch_op.drop_index('ix_decision_instance_definition')

    op.drop_table('decision_instance')
