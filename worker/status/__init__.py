"""What operators read: the status snapshot, its text report, the Prometheus exporter and
the web dashboard. Everything here only reads Redis."""
