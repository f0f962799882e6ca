"""State: the SQLite database (schema, migrations, queries) and what `status` reads from it."""
