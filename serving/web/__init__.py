"""The HTTP API under /v1: chat completions, Responses and Conversations, files and facets; one error table, request
hardening, the request and response schemas."""
