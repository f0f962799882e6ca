"""Publish: write files, commit, push to remotes with a backlog, size budgets and retention."""
