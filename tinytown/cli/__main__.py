"""``python -m tinytown.cli``: the ``tt`` command without relying on PATH.

``python -m tinytown.cli --command-server ROOT`` runs the town's command
server (:mod:`tinytown.cli.cmdserver`); the runtime starts it that way.
"""

import sys

from tinytown.cli import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["--command-server"]:
        from tinytown.cli.cmdserver import main as serve

        sys.exit(serve(sys.argv[2:]))
    main()
