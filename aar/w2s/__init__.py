"""The trusted W2SG science core: tasks, splits, model ladder, baselines, scoring, statistics."""
