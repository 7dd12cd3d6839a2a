"""Runnable examples: ``python -m fastconv.examples.<name>`` (transfer_digits,
random_search_lenet, augmentation_photos)."""
