"""Sources: read feeds, sitemaps, listing pages and URL lists into article candidates; robots.txt."""
