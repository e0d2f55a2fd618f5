"""The deploy image's staging: the environment is hardlinked (no copy), aar's own editable install is
left out, and the environment image's tag changes exactly when what goes into it does."""

from __future__ import annotations

from pathlib import Path

from aar.deploy.image import _skipped, env_key, link_tree


def fake_site(root: Path) -> Path:
    site = root / "lib" / "python3.11" / "site-packages"
    for name in ("numpy-2.0.dist-info", "aar-0.1.0.dist-info", "numpy"):
        (site / name).mkdir(parents=True)
    (site / "numpy" / "core.py").write_text("x = 1\n")
    (site / "__editable__.aar-0.1.0.pth").write_text("/work/main\n")
    (site / "__editable___aar_0_1_0_finder.py").write_text("")
    (site / "numpy" / "link.py").symlink_to("core.py")
    return site


def test_the_environment_is_hardlinked_without_aar_itself(tmp_path: Path) -> None:
    site = fake_site(tmp_path / "venv")
    target = tmp_path / "ctx" / "site-packages"
    link_tree(site, target, skip=_skipped)
    assert sorted(p.name for p in target.iterdir()) == ["numpy", "numpy-2.0.dist-info"]
    assert (target / "numpy" / "core.py").stat().st_ino == (site / "numpy" / "core.py").stat().st_ino
    assert (target / "numpy" / "link.py").is_symlink()


def test_the_environment_tag_follows_its_distributions(tmp_path: Path) -> None:
    site = fake_site(tmp_path / "venv")
    jobenv = tmp_path / "jobenv-abc"
    key = env_key(site, jobenv, "base:1")
    (site / "aar-0.1.0.dist-info").rename(site / "aar-0.2.0.dist-info")
    assert env_key(site, jobenv, "base:1") == key  # aar's own version does not rebuild the environment
    (site / "torch-2.13.0.dist-info").mkdir()
    assert env_key(site, jobenv, "base:1") != key
    assert env_key(site, tmp_path / "jobenv-def", "base:1") != env_key(site, jobenv, "base:1")
