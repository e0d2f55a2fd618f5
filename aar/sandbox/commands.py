"""`aar sandbox build` and `aar sandbox doctor`."""

from __future__ import annotations

import typer
from rich.console import Console

from aar.sandbox.docker import DEFAULT_IMAGE, GPU_IMAGE

console = Console()
sandbox_app = typer.Typer(help="Build and check the sandboxes that run agent-written experiments.")


@sandbox_app.command("build")
def build_command(
    image: str = typer.Option(
        "", help=f"Tag of the image to build (default {DEFAULT_IMAGE}, {GPU_IMAGE} with --gpu)."
    ),
    registry: bool = typer.Option(False, help="Build from a registry base (python:slim), packages baked in."),
    gpu: bool = typer.Option(
        False,
        help="The GPU image: with --registry sandbox/Dockerfile.gpu (CUDA torch); else mounts the host env.",
    ),
    force: bool = typer.Option(False, help="Rebuild even when the image exists."),
) -> None:
    """Build the sandbox image (default: debootstrap + docker import, no registry needed)."""
    from aar.sandbox.images import build

    image = image or (GPU_IMAGE if gpu else DEFAULT_IMAGE)
    build(image=image, registry=registry, gpu=gpu, force=force)
    console.print(f"[green]built[/green] {image}")


@sandbox_app.command("doctor")
def doctor_command(
    image: str = typer.Option(
        "", help="Image to check (default: $AAR_SANDBOX_IMAGE, else GPU or CPU image)."
    ),
    test_job: bool = typer.Option(True, help="Run a test job and report the GPUs it sees."),
) -> None:
    """Check the Docker engine, the image, the GPU runtime and GPUs, bwrap, and what a test job sees."""
    from aar.sandbox.images import doctor

    checks = doctor(image or None, test_job=test_job)
    for check in checks:
        mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
        fix = f"  [yellow]fix:[/yellow] {check.fix}" if check.fix and not check.ok else ""
        console.print(f"{mark} {check.name}: {check.detail}{fix}", highlight=False, soft_wrap=True)
    if not any(c.ok for c in checks if c.name in ("sandbox image", "bubblewrap")):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command group to the `aar` app."""
    app.add_typer(sandbox_app, name="sandbox")
