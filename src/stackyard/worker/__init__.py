"""The worker: Huey set-up, thin tasks, and running it beside the web server or alone."""
