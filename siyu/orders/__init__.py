"""Order ingest: platform exports turned into one canonical, trustworthy order table."""
