"""Every button's work in one object: the handler classes of the tabs, joined.

Each tab module holds its own handlers (`DataTab`, `TrainTab`, ...), all built on `AppCore`;
`Handlers` is what `build_app` wires and what the tests drive without a browser. The Library
tab keeps its own state and handlers (`clapdemo.app.tab_library.LibraryHandlers`).
"""

from __future__ import annotations

from clapdemo.app.tab_data import DataTab
from clapdemo.app.tab_evaluate import EvaluateTab
from clapdemo.app.tab_joint import JointTab
from clapdemo.app.tab_own import OwnClipsTab
from clapdemo.app.tab_search import SearchTab
from clapdemo.app.tab_train import TrainTab
from clapdemo.app.tab_upload import UploadTab


class Handlers(SearchTab, UploadTab, JointTab, EvaluateTab, TrainTab, DataTab, OwnClipsTab):
    """The handlers of the pipeline tabs; each method calls the library (the CLI command it
    mirrors is named in its docstring)."""
