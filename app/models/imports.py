from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.site import site_column
from app.models.types import BigIntPK, UTCDateTime, utcnow

CSV = "csv"
XLSX = "xlsx"
TABLE = "table"        # columns code, kind, parent_code
SUPPLIER = "supplier"  # columns Sr. No., QR Code: label rows closed by a parent row


class Import(db.Model):
    """An uploaded supplier file and the two jobs that check it (dry run) and import it.

    The file's bytes live here, in the database, so that whichever worker or host claims
    the job can read them (app hosts share nothing else). They are kept only while a job may
    still read them (app/imports/upload.py, purge_uploads): emptied when the import
    succeeds, or IMPORT_UPLOAD_RETENTION_HOURS after the upload when it was never imported,
    and never while its dry run or import is queued or running. What describes the file
    (name, size, SHA-256, layout), the summaries and the per-row reports stay."""

    __tablename__ = "imports"
    __table_args__ = (
        CheckConstraint("file_type IN ('csv', 'xlsx')", name="file_type"),
        CheckConstraint("layout IN ('table', 'supplier')", name="layout"),
        Index("ix_imports_sha256", "sha256"),
        Index("ix_imports_site_created_at", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    file_type: Mapped[str] = mapped_column(String(8))
    layout: Mapped[str] = mapped_column(String(16))
    # CSV only: the text encoding found at upload (utf-8-sig or cp1252).
    encoding: Mapped[str | None] = mapped_column(String(16))
    # Loaded only when asked for: listing imports never reads the files. Emptied (b"", not
    # NULL: making the column nullable would rebuild the table on SQLite, and with its
    # foreign keys on that deletes the report parts) when the file is purged.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # When the file's bytes were removed; NULL while they are kept.
    content_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_job_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("jobs.id"))
    import_job_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("jobs.id"))
    # The summaries of the dry run and of the import, set by the last step of each job.
    check_result: Mapped[dict | None] = mapped_column(JSON)
    import_result: Mapped[dict | None] = mapped_column(JSON)
    # The site whose bags it adds (issue 21).
    site_id: Mapped[int] = site_column()


class ImportReportPart(db.Model):
    """The per-row report of one job, in parts: each part holds the gzip-compressed CSV
    lines of consecutive rows and is written in the same transaction as those rows'
    changes, so that a job taken up again after a crash resumes after the last part and
    the report stays exact."""

    __tablename__ = "import_report_parts"
    __table_args__ = (Index("ix_import_report_parts_job_id_last_row", "job_id", "last_row"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    import_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("imports.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("jobs.id", ondelete="CASCADE"))
    first_row: Mapped[int] = mapped_column(Integer)
    last_row: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict] = mapped_column(JSON)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
