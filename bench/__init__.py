"""fastconv benchmarks (see bench/README.md); run the scripts, e.g. `python bench/conv.py`."""
