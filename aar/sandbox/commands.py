"""`aar sandbox build` and `aar sandbox doctor`."""

from __future__ import annotations

import typer
from rich.console import Console

from aar.sandbox.docker import DEFAULT_IMAGE

console = Console()
sandbox_app = typer.Typer(help="Build and check the sandboxes that run agent-written experiments.")


@sandbox_app.command("build")
def build_command(
    image: str = typer.Option(DEFAULT_IMAGE, help="Tag of the image to build."),
    registry: bool = typer.Option(False, help="Build sandbox/Dockerfile from a registry base (python:slim)."),
    gpu: bool = typer.Option(False, help="Build sandbox/Dockerfile.gpu (CUDA base; needs a registry)."),
    force: bool = typer.Option(False, help="Rebuild even when the image exists."),
) -> None:
    """Build the sandbox image (default: debootstrap + docker import, no registry needed)."""
    from aar.sandbox.images import build

    build(image=image, registry=registry, gpu=gpu, force=force)
    console.print(f"[green]built[/green] {image}")


@sandbox_app.command("doctor")
def doctor_command(image: str = typer.Option(DEFAULT_IMAGE, help="Image to check.")) -> None:
    """Check the Docker engine, the image, the GPU runtime and bwrap; say how to fix what is missing."""
    from aar.sandbox.images import doctor

    checks = doctor(image)
    for check in checks:
        mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
        fix = f"  [yellow]fix:[/yellow] {check.fix}" if check.fix and not check.ok else ""
        console.print(f"{mark} {check.name}: {check.detail}{fix}", highlight=False)
    if not any(c.ok for c in checks if c.name in ("sandbox image", "bubblewrap")):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command group to the `aar` app."""
    app.add_typer(sandbox_app, name="sandbox")
