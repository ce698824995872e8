"""Use cases, one transaction each; called by the web, the CLI and the worker."""
