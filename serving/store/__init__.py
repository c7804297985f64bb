"""What the server keeps between requests: conversations and feedback."""
