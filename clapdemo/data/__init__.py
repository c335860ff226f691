"""Data: audio files and dataset tables in, clips with captions out (AudioCaps, ESC-50, Clotho, UrbanSound8K, folders; label pairs; the shipped sample set)."""
