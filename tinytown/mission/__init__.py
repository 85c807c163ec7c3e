"""Mission mode: GitHub issues become a work graph the town works through on its own.

Pure decisions (compiler, scheduler, scoring, watch folding, directives) and
their async shells over a Town. ``tinytown.services.missions`` is the business
API the CLI, REST and MCP call; the task-complete service feeds submissions in.
"""
