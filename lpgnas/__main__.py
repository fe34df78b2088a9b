"""``python -m lpgnas`` runs the CLI."""

from lpgnas.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
