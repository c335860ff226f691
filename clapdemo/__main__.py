"""`python -m clapdemo ...` runs the command line (see clapdemo/cli/main.py)."""

from clapdemo.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
