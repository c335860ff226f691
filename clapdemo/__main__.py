"""`python -m clapdemo ...` runs the command line (see clapdemo/cli.py)."""

from clapdemo.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
