"""clapdemo: teach a frozen audio encoder to speak a frozen text encoder's language.

A linear `AudioProjection`, trained with a symmetric contrastive loss, maps
precomputed audio embeddings into the text embedding space. Importing this
package is cheap: models, torch-heavy code and optional libraries load lazily.

The public surface (README "Python API"):

    clapdemo.load(run)         -> CLAP: a trained projection with its encoders
    clapdemo.ASSETS            the shipped files (projection, sample clips), in a checkout or installed
    CLAP.get_audio_embeddings  files or waveforms -> unit vectors in the joint space
    CLAP.get_text_embeddings   captions -> unit vectors
    CLAP.compute_similarity    cosine matrix, audio x text
    CLAP.rank_texts            each clip's best texts among a list
    CLAP.searcher(store)       a Searcher over a precomputed store or folder index
"""

from clapdemo.api import CLAP, load
from clapdemo.shipped import ASSETS

__all__ = ["CLAP", "load", "ASSETS", "__version__"]
__version__ = "0.1.0"
