"""The side server: admin and jobs API, dashboard, SSE, OpenAPI, the security findings."""
