"""mlmon workers: consumer groups, metrics, status and the `mlmon` command."""
