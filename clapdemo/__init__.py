"""clapdemo: teach a frozen audio encoder to speak a frozen text encoder's language.

A linear `AudioProjection`, trained with a symmetric contrastive loss, maps
precomputed audio embeddings into the text embedding space. Importing this
package is cheap: models, torch-heavy code and optional libraries load lazily.
"""

__version__ = "0.1.0"
