"""clapdemo in the browser: `python app.py [--data-root PATH] [--port N]`.

Also what a Hugging Face Space runs unchanged (README front matter: sdk: gradio,
app_file: app.py). `demo` is built at import time, which is cheap: build_app
only starts a thread that loads the encoders and the sample set meanwhile (the
page says "Warming up…", then "Ready"), so `gradio app.py` finds it too; settings come from
CLAPDEMO_* environment variables or, under `python app.py`, from flags
(`python app.py --help`).
"""

import sys

from clapdemo import logs
from clapdemo.app import Settings, build_app, launch_options

logs.to_console()  # a program: the library's and the app's log lines on the console
settings = Settings.from_env(sys.argv[1:] if __name__ == "__main__" else [])
demo = build_app(settings)

if __name__ == "__main__":
    demo.launch(**launch_options(settings))
