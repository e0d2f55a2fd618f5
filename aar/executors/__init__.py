"""Where experiment jobs run beyond this process: the Ray executor (`aar run --executor ray`).

The local executor (this process's device pool, `aar.scheduler`) is the default and needs nothing from
here; `aar.executors.ray_cluster` is imported only when a study asks for Ray, so aar runs without Ray
installed. The study's choice is `StudyConfig.executor` (`aar.config.ExecutorChoice`).
"""
