"""The steps of one run that join stages: plan, the page task and its pool, work, decide, progress, watch."""
