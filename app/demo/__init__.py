"""The demo: a believable history and a live trickle of responses for `nps-tv demo`."""
