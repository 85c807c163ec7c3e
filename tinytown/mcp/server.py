"""The MCP server object: the catalog bound to a connected Town, on the SDK's low-level Server.

This module imports the ``mcp`` SDK (seconds of start-up): only the MCP
commands and tests import it. The low-level server is used rather than
``MCPServer`` because the tools keep 0.10's names and hand-written schemas
(an argument is called ``from``) and answer every failure in 0.10's envelope.
"""

from __future__ import annotations

from typing import Any, Final

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from tinytown import __version__
from tinytown.mcp.catalog import PROMPTS, RESOURCES, TEMPLATES, TOOLS
from tinytown.mcp.prompts import (
    CONDUCTOR,
    CONDUCTOR_RESULT,
    ROLE_HINT,
    conductor_context,
    role_hint_text,
)
from tinytown.mcp.resources import MIME, UnknownResourceError, read_resource
from tinytown.mcp.spec import index, run_tool
from tinytown.mcp.views import envelope_error
from tinytown.town import Town

SERVER_NAME: Final = "tinytown-mcp"
INSTRUCTIONS: Final = (
    "Tinytown MCP interface for multi-agent orchestration. Use tools to manage agents, assign "
    "tasks, and monitor town status. Resources provide read-only snapshots of town state. "
    "Prompts help generate context for conductor and agent operations."
)

Ctx = ServerRequestContext[Any]


def _tool_list() -> list[types.Tool]:
    return [
        types.Tool(
            name=spec.name,
            description=spec.description,
            input_schema=spec.schema(),
            annotations=types.ToolAnnotations(read_only_hint=True) if spec.read_only else None,
        )
        for spec in TOOLS
    ]


def _text(text: str) -> types.TextContent:
    return types.TextContent(type="text", text=text)


def build_server(town: Town) -> Server[Any]:
    """The server for one connected town; serve it over stdio or Streamable HTTP."""
    tools = index(TOOLS)
    listing = _tool_list()

    async def list_tools(_ctx: Ctx, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listing)

    async def call_tool(_ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = tools.get(params.name)
        if spec is None:
            text = envelope_error(f"Unknown tool: {params.name}")
        else:
            text = await run_tool(spec, town, params.arguments)
        return types.CallToolResult(content=[_text(text)], is_error=False)

    async def list_resources(_ctx: Ctx, _params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=r.uri, name=r.name, description=r.description, mime_type=MIME)
                for r in RESOURCES
            ]
        )

    async def list_templates(_ctx: Ctx, _params: Any) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=t.uri, name=t.name, description=t.description, mime_type=MIME
                )
                for t in TEMPLATES
            ]
        )

    async def read(_ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            text = await read_resource(town, uri)
        except UnknownResourceError as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=str(exc)) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, text=text, mime_type=MIME)]
        )

    async def list_prompts(_ctx: Ctx, _params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name=p.name,
                    description=p.description,
                    arguments=[
                        types.PromptArgument(
                            name=a.name, description=a.description, required=a.required
                        )
                        for a in p.args
                    ],
                )
                for p in PROMPTS
            ]
        )

    async def get_prompt(_ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        arguments = params.arguments or {}
        if params.name == CONDUCTOR.name:
            description, text = CONDUCTOR_RESULT, await conductor_context(town)
        elif params.name == ROLE_HINT.name:
            name = arguments.get("agent_name")
            if not name:
                raise MCPError(
                    code=types.INVALID_PARAMS, message="Missing required argument: agent_name"
                )
            description = f"Role hints for agent {name}"
            text = role_hint_text(name, arguments.get("tags"))
        else:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt: {params.name}")
        return types.GetPromptResult(
            description=description,
            messages=[types.PromptMessage(role="user", content=_text(text))],
        )

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
