"""Staff identity and the one policy that decides every access."""
