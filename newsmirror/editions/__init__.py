"""Editions: the forms the mirror is published in (Markdown, HTML and its converted twin), behind one seam."""
