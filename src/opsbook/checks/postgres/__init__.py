"""The postgres kind: connect and run one query; conditions read its rows."""
