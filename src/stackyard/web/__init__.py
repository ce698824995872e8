"""The HTTP adapter: REST API, webhook endpoint and server-rendered pages."""
