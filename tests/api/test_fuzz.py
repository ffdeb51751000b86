"""Property-based fuzz of the API from its own OpenAPI document (schemathesis): whatever
the generated parameters, the answer is never a server error, always a documented status
with a JSON body, and errors carry a message."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.openapi import document

# The document served at /openapi.json (test_routes checks that it covers every route).
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_never_fails_on_generated_input(case, app):
    response = case.call(app=app)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance,
                                             response_schema_conformance])
    if response.status_code >= 400:
        assert response.json()["error"]
