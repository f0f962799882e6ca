"""Views: the privacy-preserving view counter, access-log import and the hot ranking."""
