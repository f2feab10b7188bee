"""The only code that talks to a node: the transaction pipeline, nonces, revert extraction, logs."""
