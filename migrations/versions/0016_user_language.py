"""users.language and users.timezone: each user's words and clock (issue 23)

language is `en` or `hi` (NULL: the browser's Accept-Language, else DEFAULT_LANGUAGE);
timezone an IANA name (NULL: APP_TIMEZONE). The language is checked by the database; a zone
name is checked by the service against the time zone database, which SQL does not have.

Revision ID: 0016_user_language
Revises: 0011_time_made
Create Date: 2026-12-05 05:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016_user_language'
down_revision = "0015_label_series"
branch_labels = None
depends_on = None


LANGUAGE_CHECK = "language IN ('en', 'hi')"


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # A column's own CHECK comes with ADD COLUMN: no rebuild of users, which the other
        # tables' foreign keys point at (a batch rebuild would have to drop it).
        op.execute("ALTER TABLE users ADD COLUMN language VARCHAR(8) "
                   f"CONSTRAINT ck_users_language CHECK ({LANGUAGE_CHECK})")
    else:
        op.add_column('users', sa.Column('language', sa.String(length=8), nullable=True))
        op.create_check_constraint(op.f('ck_users_language'), 'users', LANGUAGE_CHECK)
    op.add_column('users', sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade():
    # Plain ALTER TABLE ... DROP COLUMN, as 0009 (SQLite 3.35+ drops a column with its own CHECK).
    op.drop_column('users', 'timezone')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_users_language'), 'users', type_='check')
    op.drop_column('users', 'language')
