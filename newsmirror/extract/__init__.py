"""Extract: page bytes -> Article (decode, parse, site rules, main text, filters, images, metadata)."""
