"""The notify stage: outgoing webhooks and plugin hooks, after a run (see docs/PLUGINS.md)."""
