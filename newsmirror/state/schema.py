"""The state database's schema: numbered migrations, applied in order by `Store.migrate`.

Never edit a migration that has shipped; append a new one. `PRAGMA user_version` records the last one applied.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,              -- primary channel: where the page lives
        title TEXT,
        published TEXT,
        updated TEXT,
        content_hash TEXT,
        record TEXT,                        -- the Article as JSON, for re-rendering without the network
        status TEXT NOT NULL DEFAULT 'pending',   -- pending | ok | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_stage TEXT,
        next_retry TEXT,
        source_version TEXT,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        last_changed TEXT
    );
    CREATE TABLE article_channels (
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        channel TEXT NOT NULL,
        added TEXT NOT NULL,
        PRIMARY KEY (article_id, channel)
    );
    CREATE INDEX article_channels_channel ON article_channels(channel);
    CREATE TABLE fetch_cache (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        fetched_at TEXT NOT NULL
    );
    CREATE TABLE images (
        src TEXT PRIMARY KEY,
        asset_path TEXT,
        sha256 TEXT,
        status TEXT NOT NULL DEFAULT 'ok',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE TABLE views (
        page TEXT NOT NULL,
        day TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (page, day)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started TEXT NOT NULL,
        finished TEXT,
        new INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        commit_id TEXT
    );
    CREATE TABLE failures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER,
        at TEXT NOT NULL,
        url TEXT NOT NULL,
        stage TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE remotes (
        name TEXT PRIMARY KEY,
        last_pushed TEXT,
        last_error TEXT,
        updated TEXT
    );
    """,
    # 2: which article shows which source image, so a run can retry the failed images of unchanged articles
    """
    CREATE TABLE image_uses (
        src TEXT NOT NULL,
        article_url TEXT NOT NULL,
        PRIMARY KEY (src, article_url)
    );
    CREATE INDEX image_uses_article ON image_uses(article_url);
    CREATE INDEX images_status ON images(status);
    """,
    # retention: when an article's page was removed from the work tree (it stays listed, linking to the original)
    """
    ALTER TABLE articles ADD COLUMN retired TEXT;
    """,
    # access logs already imported into views: a fingerprint of the log's first lines (times, requests, statuses,
    # sizes only: never addresses or agents) and how many of its lines were counted, so a re-import adds only the rest
    """
    CREATE TABLE view_imports (
        fingerprint TEXT PRIMARY KEY,
        lines INTEGER NOT NULL,
        imported TEXT NOT NULL
    );
    """,
    # incremental rendering: index pages are read a slice at a time in this order; `settings` keeps the
    # signature of the render configuration the mirror's pages were last rendered with
    """
    CREATE INDEX articles_newest ON articles(status, coalesce(published, first_seen), id);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # remotes: last_pushed is the mirror commit the remote has received (its backlog is what came after);
    # remote_head is the remote branch's tip, which differs when the mirror's commits were rebased onto host edits
    """
    ALTER TABLE remotes ADD COLUMN remote_head TEXT;
    ALTER TABLE remotes ADD COLUMN last_success TEXT;
    ALTER TABLE remotes ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE remotes ADD COLUMN target TEXT;
    """,
    # notices on article pages: when the original disappeared at its source (404/410), when a re-fetch found it edited
    """
    ALTER TABLE articles ADD COLUMN removed_at TEXT;
    ALTER TABLE articles ADD COLUMN edited_at TEXT;
    """,
    # counting a channel's entries, and an entry's place among them, from an index (never the rows' records)
    """
    CREATE INDEX articles_id_order ON articles(id, status, coalesce(published, first_seen));
    """,
    # the entries a run retired (their channels' index pages change) without reading every article
    """
    CREATE INDEX articles_retired ON articles(retired) WHERE retired IS NOT NULL;
    """,
    # the source that announced an article: its settings (site rules, render_js, robots, convert) follow the
    # article on every retry, also after it has left its feed ("" for `newsmirror add`; NULL: not known yet)
    """
    ALTER TABLE articles ADD COLUMN source TEXT;
    """,
    # re-checks, versions and what happened at the source: `rechecks` holds each published article's next
    # conditional GET (step: which of the configured delays after first seen), `revisions` every text an article
    # had at its source (number 1 is the first), `source_events` when an edit, a removal or a re-appearance was found
    """
    CREATE TABLE rechecks (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        due TEXT NOT NULL,
        step INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX rechecks_due ON rechecks(due);
    INSERT INTO rechecks (article_id, due, step) SELECT id, first_seen, 0 FROM articles WHERE status = 'ok';
    CREATE TABLE revisions (
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        seen TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (article_id, number)
    );
    CREATE TABLE source_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        article_id TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX source_events_at ON source_events(at);
    CREATE INDEX articles_removed ON articles(removed_at) WHERE removed_at IS NOT NULL;
    """,
]
