"""The `stackyard` command line."""
