"""Stores: precomputed vectors on disk (one store per dataset split and encoder pair), how they are computed, packed, split over processes and exported."""
