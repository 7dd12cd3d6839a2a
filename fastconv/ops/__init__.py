"""The public functional API: validation, dtype/layout policy, backend dispatch."""
