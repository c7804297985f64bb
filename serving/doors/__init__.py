"""Front doors: the knowledge base reached from other tools (an MCP server, Slack and Teams bots), each person with
their own permissions. Every door asks, searches and reads through serving.doors.core.Door."""
