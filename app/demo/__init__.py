"""Luna's bundled demo API (load-test target and test fixture)."""

from app.demo.app import create_app, serve

__all__ = ["create_app", "serve"]
