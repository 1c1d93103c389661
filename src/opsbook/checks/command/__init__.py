"""The command kind: run a program; its exit code and output are the values."""
