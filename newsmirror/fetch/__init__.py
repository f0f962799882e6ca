"""Fetch: the HTTP client with per-host politeness, the headless browser, and the images an article needs."""
