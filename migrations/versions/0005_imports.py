"""imports: uploaded supplier files and the per-row reports of their jobs

The file's bytes are kept in the database (bytea / BLOB), so that a job claimed by any
worker on any host can read them. Report parts are gzip-compressed CSV lines, each written
in the same transaction as the rows it reports.

Revision ID: 0005_imports
Revises: 0004_dashboard_indexes
Create Date: 2026-11-28 20:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005_imports'
down_revision = '0004_dashboard_indexes'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('imports',
    sa.Column('id', BIGINT, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('file_type', sa.String(length=8), nullable=False),
    sa.Column('layout', sa.String(length=16), nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('check_job_id', BIGINT, nullable=True),
    sa.Column('import_job_id', BIGINT, nullable=True),
    sa.Column('check_result', sa.JSON(), nullable=True),
    sa.Column('import_result', sa.JSON(), nullable=True),
    sa.CheckConstraint("file_type IN ('csv', 'xlsx')", name=op.f('ck_imports_file_type')),
    sa.CheckConstraint("layout IN ('table', 'supplier')", name=op.f('ck_imports_layout')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_imports_created_by_id_users')),
    sa.ForeignKeyConstraint(['check_job_id'], ['jobs.id'], name=op.f('fk_imports_check_job_id_jobs')),
    sa.ForeignKeyConstraint(['import_job_id'], ['jobs.id'], name=op.f('fk_imports_import_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imports'))
    )
    op.create_index('ix_imports_sha256', 'imports', ['sha256'], unique=False)
    op.create_index('ix_imports_created_at', 'imports', ['created_at'], unique=False)

    op.create_table('import_report_parts',
    sa.Column('id', BIGINT, nullable=False),
    sa.Column('import_id', BIGINT, nullable=False),
    sa.Column('job_id', BIGINT, nullable=False),
    sa.Column('first_row', sa.Integer(), nullable=False),
    sa.Column('last_row', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_import_report_parts_import_id_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_import_report_parts_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_report_parts'))
    )
    op.create_index('ix_import_report_parts_job_id_last_row', 'import_report_parts',
                    ['job_id', 'last_row'], unique=False)


def downgrade():
    op.drop_index('ix_import_report_parts_job_id_last_row', table_name='import_report_parts')
    op.drop_table('import_report_parts')
    op.drop_index('ix_imports_created_at', table_name='imports')
    op.drop_index('ix_imports_sha256', table_name='imports')
    op.drop_table('imports')
