"""Start-up as users get it: ``tt`` as installed, and the Rust tinytown 0.10 peer.

A development checkout is an *editable* install: setuptools' import hook in
``site-packages`` (``__editable___tinytown_*_finder``) imports ``pathlib``,
``re``, ``fnmatch``… in every Python process before ``tt`` runs a line, and
the checkout may hold no bytecode (``PYTHONDONTWRITEBYTECODE``). A wheel
install has neither cost. :func:`installed_tt` builds that layout in a
temporary directory: a bare venv whose only ``.pth`` puts the checkout and
this environment's ``site-packages`` on ``sys.path`` (no finder), a ``tt``
script like pip's, and bytecode compiled for the whole package (as pip does
at install).
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import tinytown

REPO = Path(tinytown.__file__).resolve().parent.parent
RUST_TT_REL = Path("shared", "tools", "tinytown-0.10-rust", "tt")  # beside the checkout's parents
TT_SCRIPT = """#!{python}
import sys
from tinytown.cli import main
if __name__ == '__main__':
    sys.exit(main())
"""


def compile_bytecode() -> bool:
    """Compile the package's bytecode (what pip does at install); True if all compiled."""
    return bool(compileall.compile_dir(REPO / "tinytown", quiet=1))


def bytecode_missing() -> list[str]:
    """Modules of the package without up-to-date bytecode."""
    import importlib.util

    missing = []
    for src in (REPO / "tinytown").rglob("*.py"):
        pyc = Path(importlib.util.cache_from_source(str(src)))
        if not pyc.exists() or pyc.stat().st_mtime < src.stat().st_mtime:
            missing.append(str(src.relative_to(REPO)))
    return missing


def installed_tt(base: Path) -> tuple[str, str]:
    """(python, tt) of a wheel-like install of this checkout under ``base``."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "tinytown_bench.pth").write_text(f"{REPO}\n{ours}\n")
    tt = venv / "bin" / "tt"
    tt.write_text(TT_SCRIPT.format(python=python))
    tt.chmod(0o755)
    return str(python), str(tt)


def rust_tt() -> str | None:
    """The tinytown 0.10 binary, if present and runnable here."""
    found = os.environ.get("TINYTOWN_RUST_TT")
    if not found:
        candidates = [p / RUST_TT_REL for p in REPO.parents]
        found = next((str(c) for c in candidates if c.exists()), None)
    if found is None or not os.access(found, os.X_OK):
        return None
    return found


def link_redis_for_rust(home: Path) -> None:
    """The Rust ``tt`` wants ``redis-server`` ≥ 8 at ``~/.tt/bin`` (or on PATH)."""
    from benchmarks._common import redis_server_binary

    bin_dir = home / ".tt" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / "redis-server"
    if not target.exists():
        target.symlink_to(redis_server_binary())
