"""Evaluation: retrieval metrics beside chance, a run evaluated on a store, the out-of-domain benchmark, the joint-space picture."""
