"""The manager as a Swarm stack (`katoctl deploy`): on the seam and build/, below neither."""
