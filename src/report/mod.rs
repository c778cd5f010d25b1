//! Self-contained report.html (stub: filled by the report work).
