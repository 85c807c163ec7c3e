#!/usr/bin/env python3
"""A fake ``gh`` for tests: canned answers per argv, an argv log, failure modes.

``$FAKE_GH_DIR/responses.json`` maps the argv joined by spaces to a list of
answers, each ``{"stdout": text-or-JSON, "exit": int, "stderr": text}``; each
call takes the next answer and the last one repeats. Every call's argv is
appended (one JSON list per line) to ``$FAKE_GH_DIR/argv.log``. An argv with
no answer exits 1 with ``unknown command`` on stderr, as a broken gh would.
"""

import json
import os
import sys
from pathlib import Path


def main() -> int:
    base = Path(os.environ["FAKE_GH_DIR"])
    argv = sys.argv[1:]
    with (base / "argv.log").open("a") as log:
        log.write(json.dumps(argv) + "\n")
    key = " ".join(argv)
    table = json.loads((base / "responses.json").read_text())
    answers = table.get(key)
    if not answers:
        sys.stderr.write(f"unknown command: gh {key}\n")
        return 1
    counts_path = base / "counts.json"
    counts = json.loads(counts_path.read_text()) if counts_path.exists() else {}
    n = counts.get(key, 0)
    counts[key] = n + 1
    counts_path.write_text(json.dumps(counts))
    answer = answers[min(n, len(answers) - 1)]
    out = answer.get("stdout", "")
    sys.stdout.write(out if isinstance(out, str) else json.dumps(out))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exit", 0))


if __name__ == "__main__":
    sys.exit(main())
