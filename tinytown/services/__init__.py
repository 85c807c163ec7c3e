"""Business operations over a Town: plain async functions, shared by CLI, REST and MCP."""
