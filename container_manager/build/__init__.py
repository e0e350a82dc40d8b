"""The processor image (`katoctl build`): `image` runs the steps, `base_image` and `wheelhouse`
prepare them. Built on the runtime seam, never imported by it (tests/unit/test_layers.py)."""
