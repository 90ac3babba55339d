"""Plain-Python ML package (no Django): label maps, data I/O, synthesis, model code."""
