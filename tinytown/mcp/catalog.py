"""Everything the MCP server offers, in 0.10's registration order (no SDK import)."""

from __future__ import annotations

from typing import Final

from tinytown.mcp.prompts import PROMPTS
from tinytown.mcp.resources import RESOURCES, TEMPLATES
from tinytown.mcp.spec import ToolSpec
from tinytown.mcp.tools_agents import AGENT_TOOLS
from tinytown.mcp.tools_attention import ATTENTION_TOOLS
from tinytown.mcp.tools_missions import MISSION_READ_TOOLS, MISSION_WRITE_TOOLS
from tinytown.mcp.tools_read import BACKLOG_READ, READ_TOOLS
from tinytown.mcp.tools_write import WRITE_TOOLS

TOOLS: Final[tuple[ToolSpec, ...]] = (
    *READ_TOOLS,
    BACKLOG_READ,
    *MISSION_READ_TOOLS,
    *WRITE_TOOLS,
    *MISSION_WRITE_TOOLS,
    *AGENT_TOOLS,
    # ours, after 0.10's 42
    *ATTENTION_TOOLS,
)

__all__ = ["PROMPTS", "RESOURCES", "TEMPLATES", "TOOLS"]
