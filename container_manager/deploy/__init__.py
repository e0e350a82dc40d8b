"""The session manager as a Swarm stack (`katoctl deploy`, module `stack`). Built on the
runtime seam and the image build, never imported by them (tests/unit/test_layers.py)."""
