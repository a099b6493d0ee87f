"""daily_sends: the row that claims a day's dispatch summary (issue 20, item 5)

One row per (kind, day), unique: every worker and host looks for the summary once a minute,
the first to insert the row sends it, the others find it. A failed send leaves the row in
'retry' with the time of the next try; a sender that died mid-send leaves it in 'sending',
taken over once its claim is old.

Revision ID: 0014_dispatch_summary
Revises: 0013_dispatch
Create Date: 2026-12-05 05:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014_dispatch_summary'
down_revision = "0013_dispatch"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('daily_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('sending', 'retry', 'sent', 'logged')", name=op.f('ck_daily_sends_status')),
    sa.CheckConstraint("status <> 'retry' OR next_attempt_at IS NOT NULL", name=op.f('ck_daily_sends_retry_has_next_attempt')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_sends')),
    sa.UniqueConstraint('kind', 'day', name=op.f('uq_daily_sends_kind'))
    )


def downgrade():
    op.drop_table('daily_sends')
