"""Tech dashboard: lead volume and invalidation per month or ISO week (HTML + XLSX)."""
