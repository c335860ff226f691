"""The Gradio app: every step of the pipeline one click away, each handler a thin call to the library.

`build_app(settings)` returns the Blocks; `app.py` builds it at import time (cheap: the
encoders and the sample set load in a warm-up thread it starts, `warmup.py`) and launches it under `__main__` with
`launch_options(settings)`. One module per job:

    settings.py      Settings from CLAPDEMO_* variables or flags; launch_options
    session.py       Session (one browser's store, projection, jobs); SessionRegistry (reloads, caps, expiry)
    served.py        files handed to a page as copies under unguessable names (the cache is never served)
    jobs.py          a long library call in a thread, watched by a generator (progress, Stop)
    errors.py        errors to the tab's status line (`on`), never a toast
    widgets.py       tables, players, progress bar, shared wording
    core.py          AppCore: encoders, the session's store and projection, the header
    warmup.py        WarmUp: what the first click needs, loaded in a thread while the app starts
    tab_*.py         one tab each: its handlers (a class on AppCore), `build`, `wire`
    handlers.py      Handlers: the tabs' handler classes joined (what tests drive)
    blocks.py        build_app: the page, page load, every tab wired
"""

from clapdemo.app.blocks import build_app
from clapdemo.app.handlers import Handlers
from clapdemo.app.session import Session, SessionRegistry
from clapdemo.app.settings import DEFAULT_PROJECTION, Settings, launch_options

__all__ = ["DEFAULT_PROJECTION", "Handlers", "Session", "SessionRegistry", "Settings", "build_app", "launch_options"]
