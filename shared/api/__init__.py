"""The HTTP side: request parsing and problem+json (http), who may do what (auth), the operation
catalog, the REST models, the OpenAPI document, and the health checks."""
