"""Who is asking and what they may do: identities, keys and sessions, OIDC sign-in, quotas, PII redaction."""
