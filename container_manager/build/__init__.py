"""The processor image (`katoctl build`): on the runtime seam, never imported by it."""
