"""Fixed-width CP932 records: a layout-driven writer and reader."""
