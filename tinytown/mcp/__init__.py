"""MCP server of tinytown: every town operation as tools, resources and prompts (mcp.md).

Importing this package does not import the ``mcp`` SDK; :mod:`tinytown.mcp.server`,
:mod:`tinytown.mcp.stdio` and :mod:`tinytown.mcp.http` do.
"""
