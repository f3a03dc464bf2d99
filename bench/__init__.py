"""crashreport's benchmark: ``python -m bench`` prints medians and ratios against sentry-sdk."""
