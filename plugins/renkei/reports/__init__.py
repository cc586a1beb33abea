"""Reports for people: CSV and Excel built from marts, never from raw tables."""
