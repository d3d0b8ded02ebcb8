"""One module per study: its protocol, called by its notebook."""
