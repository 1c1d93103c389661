"""The tls kind: certificate expiry of the leaf and of the whole chain, hostname, protocol."""
