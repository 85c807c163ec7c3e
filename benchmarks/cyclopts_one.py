"""A one-command cyclopts app: the yardstick for ``tt --help`` start-up.

Run as ``python benchmarks/cyclopts_one.py --help``.
"""

from __future__ import annotations

from cyclopts import App

app = App(name="one", help="A one-command cyclopts app (start-up yardstick).")


@app.command
def hello(name: str = "world") -> None:
    """Print a greeting.

    Parameters
    ----------
    name : str
        Who to greet.
    """
    print(f"hello {name}")


if __name__ == "__main__":
    app()
