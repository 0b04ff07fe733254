"""Alerts: rules with a `for` delay, repeat suppression, resolved notices and grouping;
delivery to the alerts stream, the log, and webhook / Slack / Telegram / email via RQ."""
