"""Everything that knows GitLab: webhook payload models, the delivery parse table, GitLab quirks."""
