"""Counter schemas written by the groups and read by status, drift and the exporter, and
the time buckets they are kept in: each field name is defined once, here."""
