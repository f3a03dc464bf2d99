"""mytool: a small example CLI that uses crashreport's one-line init."""
