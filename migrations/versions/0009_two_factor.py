"""two-factor login: a TOTP secret per user and one-time recovery codes

users gains totp_secret (base32, set once the user has confirmed a code from the app),
totp_enabled_at and totp_last_timecode (the 30-second step of the last code accepted: a
code is never accepted twice). recovery_codes holds the SHA-256 of each of a user's
one-time codes, used_at once spent. Nothing changes for existing users until they enrol;
with REQUIRE_2FA_ROLES (default admin) an admin enrols at the next login.

Revision ID: 0009_two_factor
Revises: 0008_event_parent_code
Create Date: 2026-12-04 18:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009_two_factor'
down_revision = '0008_event_parent_code'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('totp_last_timecode', sa.BigInteger(), nullable=True))
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE',
                                name='fk_recovery_codes_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_recovery_codes'),
        sa.UniqueConstraint('user_id', 'code_hash', name='uq_recovery_codes_user_id'),
    )


def downgrade():
    op.drop_table('recovery_codes')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ has it): a batch rebuild of users on
    # SQLite would DROP the table that scan_events, bags and jobs point at, which foreign keys
    # refuse once there is data.
    for column in ('totp_last_timecode', 'totp_enabled_at', 'totp_secret'):
        op.drop_column('users', column)
