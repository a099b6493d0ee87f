"""imports: when an upload's file was purged

An uploaded file's bytes are kept only while a job may still read them: they are emptied
when its import succeeds, or IMPORT_UPLOAD_RETENTION_HOURS after the upload when it was never
imported (app/imports/services.py, purge_uploads). content_purged_at says when; the content
column stays NOT NULL and holds an empty value once purged (making it nullable would rebuild
the table on SQLite, where with foreign keys on the rebuild's DROP TABLE would delete the
report parts).

No data changes here: the files of imports that succeeded before this revision are emptied by
the first purge after the deploy (the job runners do it within minutes, or
`flask --app main imports purge`).

Revision ID: 0007_import_upload_purge
Revises: 0006_scan_counts
Create Date: 2026-11-29 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007_import_upload_purge'
down_revision = '0006_scan_counts'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('imports', sa.Column('content_purged_at', sa.DateTime(timezone=True),
                                       nullable=True))


def downgrade():
    # Purged files do not come back: their rows keep an empty content.
    op.drop_column('imports', 'content_purged_at')
