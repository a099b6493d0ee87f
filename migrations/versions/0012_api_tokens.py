"""api_tokens: scoped API tokens (issue 19, DESIGN 8.4)

One row per token: its user, name, scopes (space-separated), the prefix shown in lists and
used to find the row, the SHA-256 of the secret (never the secret), created, expiry, last
use, and who revoked it when. The database keeps: a 64-hex-digit hash, some scope, an expiry
after creation, and revoked_at and revoked_by_id set together.

Revision ID: 0012_api_tokens
Revises: 0015_label_series
Create Date: 2026-12-05 05:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012_api_tokens'
down_revision = "0011_time_made"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('scopes', sa.String(length=200), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('length(secret_hash) = 64', name='ck_api_tokens_secret_hash'),
        sa.CheckConstraint("scopes <> ''", name='ck_api_tokens_scopes'),
        sa.CheckConstraint('expires_at > created_at', name='ck_api_tokens_expiry'),
        sa.CheckConstraint('(revoked_at IS NULL) = (revoked_by_id IS NULL)',
                           name='ck_api_tokens_revoked'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE',
                                name='fk_api_tokens_user_id_users'),
        sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'],
                                name='fk_api_tokens_revoked_by_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_api_tokens'),
        sa.UniqueConstraint('prefix', name='uq_api_tokens_prefix'),
    )
    op.create_index('ix_api_tokens_user_id', 'api_tokens', ['user_id'])


def downgrade():
    op.drop_index('ix_api_tokens_user_id', table_name='api_tokens')
    op.drop_table('api_tokens')
