"""``python -m tinytown.cli``: the ``tt`` command without relying on PATH."""

from tinytown.cli import main

if __name__ == "__main__":
    main()
