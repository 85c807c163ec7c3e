"""Service-layer tests (a package, so module names may repeat those under tests/cli)."""
