"""cryptoquant's Flask API and analytics dashboard.

``create_app()`` builds the app (blueprints: the JSON API under /api/, the dashboard at /,
the OpenAPI document at /openapi.json); ``cryptoquant serve`` runs it under waitress.
"""

from __future__ import annotations

from api.app import create_app

__all__ = ["create_app"]
