"""Bulk import of supplier files (CSV or XLSX) into parents and children, as background
jobs: a dry run first, then the import, each with a per-row report."""
