"""`aar deploy build` (the compose image) and `aar worker` (runs the studies `aar run --enqueue` queued)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from aar.config import Settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
deploy_app = typer.Typer(help="The team deployment (compose.yaml): build its image.", no_args_is_help=True)


@deploy_app.command("build")
def build_cmd(
    image: Annotated[
        str, typer.Option("--image", envvar="AAR_DEPLOY_IMAGE", help="Tag of the app image.")
    ] = "",
    force: Annotated[bool, typer.Option("--force", help="Rebuild the environment image too.")] = False,
) -> None:
    """Build the one image every compose service runs (from this checkout; no registry, no pip)."""
    from aar.deploy.image import APP_IMAGE, build

    result = build(image=image or APP_IMAGE, force=force)
    env = "built" if result.env_built else "cached"
    console.print(
        f"built {result.image} on {result.env_image} ({env}) in {result.seconds:.0f}s", highlight=False
    )


def worker_cmd(
    once: Annotated[bool, typer.Option("--once", help="Exit when the queue is empty.")] = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="Seconds between looks at an empty queue.")
    ] = 5.0,
) -> None:
    """Run queued studies (`aar run --enqueue`), oldest first, one at a time; several workers may share a store."""
    from aar.deploy.worker import Worker
    from aar.graph.commands import display, show_line
    from aar.progress import Reporter, for_console
    from aar.store import open_store

    settings = Settings()
    store = open_store(settings)
    try:
        say = show_line(False)
        say(f"worker: waiting for queued studies (store {store.url})")
        worker = Worker(settings, store, Reporter(display, for_console(console)), say, poll_s=poll)
        outcomes = worker.run(once=once)
    finally:
        store.close()
    say(f"worker: stopped after {len(outcomes)} study(ies)")


def register(app: typer.Typer) -> None:
    """Add `deploy build` and `worker` to the `aar` command."""
    app.add_typer(deploy_app, name="deploy")
    app.command("worker")(worker_cmd)
