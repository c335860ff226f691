"""The command line: `python -m clapdemo <command>`; each command calls the library."""
