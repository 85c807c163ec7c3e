"""``python -m tinytown.mcp [-t DIR] [-v] mcp-stdio|mcp-http [-b ADDR] [-p PORT]``."""

from tinytown.mcp.commands import main

raise SystemExit(main())
