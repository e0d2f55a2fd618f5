"""Deterministic W2SG splits of a task from a split seed.

`weak_train` (ground truth, the weak supervisor's data), `w2s_train` (inputs + weak labels only), `dev`
(scores shown to the agent) and `test` (sealed). The splits are fixed for a study: run seeds vary the
training randomness, never the partition, because every seed's data sits in the same sandbox job and a
per-seed partition would hand one seed's held-out labels to another seed's weak_train.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from aar.errors import UserError
from aar.w2s.tasks import Example

log = logging.getLogger(__name__)

SPLIT_NAMES = ("weak_train", "w2s_train", "dev", "test")


@dataclass(frozen=True)
class SplitSizes:
    """How many examples each split gets.

    The defaults give dev 1,500 examples (a dev PGR's example-level noise shrinks with √n; 500 left it
    larger than most gaps between methods) and fit every built-in task (10,923 rows and up). `fit` marks
    sizes the user did not choose (no `--sizes`): a task too small for them gets them scaled down to fit
    (`fitted`); sizes the user named are taken as asked, and a task too small for them is a UserError.
    """

    weak_train: int = 1000
    w2s_train: int = 3000
    dev: int = 1500
    test: int = 1500
    fit: bool = field(default=False, compare=False)  # not part of the sizes (nor of any cache key)

    @property
    def total(self) -> int:
        return self.weak_train + self.w2s_train + self.dev + self.test

    def as_dict(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in SPLIT_NAMES}

    @classmethod
    def of(cls, sizes: dict[str, int]) -> SplitSizes:
        """Sizes the user (or the code) chose, from one number per split name."""
        return cls(sizes["weak_train"], sizes["w2s_train"], sizes["dev"], sizes["test"])

    @classmethod
    def defaults(cls) -> SplitSizes:
        """The default sizes, shrunk to fit a task too small for them."""
        return cls(fit=True)

    @classmethod
    def parse(cls, text: str) -> SplitSizes:
        """`weak_train=500,w2s_train=2000,...` (unnamed fields keep their defaults); "" means the defaults,
        shrunk to fit a small task (any named size makes them explicit: they must fit)."""
        fields: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            if key not in SPLIT_NAMES or not value.isdigit() or int(value) < 1:
                raise UserError(
                    f"bad split size {part!r}; expected NAME=N with NAME in {', '.join(SPLIT_NAMES)}"
                )
            fields[key] = int(value)
        return cls.of({**cls().as_dict(), **fields}) if fields else cls.defaults()

    def fitted(self, n_examples: int, task: str = "task") -> SplitSizes:
        """These sizes for a task of `n_examples`: unchanged when they fit or were chosen by the user;
        else (defaults) every split scaled by the same factor, so dev keeps its share (equal to test's).

        Raises:
            UserError: The task is too small for even one example per split.
        """
        if not self.fit or n_examples >= self.total:
            return SplitSizes.of(self.as_dict())
        scale = n_examples / self.total
        shrunk = {name: int(getattr(self, name) * scale) for name in SPLIT_NAMES}
        if min(shrunk.values()) < 1:
            raise UserError(f"{task}: {n_examples} examples are too few for four splits; pass --sizes")
        log.info(
            "%s: %d examples, fewer than the default splits need (%d); using %s",
            task, n_examples, self.total, ", ".join(f"{k}={v}" for k, v in shrunk.items()),
        )  # fmt: skip
        return SplitSizes.of(shrunk)


@dataclass(frozen=True)
class Splits:
    """The four splits, each a list of examples in a fixed order."""

    weak_train: list[Example]
    w2s_train: list[Example]
    dev: list[Example]
    test: list[Example]

    def get(self, name: str) -> list[Example]:
        return list(getattr(self, name))

    def all_examples(self) -> list[Example]:
        return [ex for name in SPLIT_NAMES for ex in self.get(name)]


def make_splits(examples: list[Example], sizes: SplitSizes, split_seed: int, task: str = "task") -> Splits:
    """Shuffle by `split_seed` (after sorting by id, so file order does not matter) and cut the splits.

    Examples that share a `group` (one question's true and false answer) always land in the same split.
    A task without groups is cut exactly as before groups existed (cached baselines stay valid).
    Default sizes (`SplitSizes.fit`) shrink to fit a small task; explicit ones must fit.
    """
    sizes = sizes.fitted(len(examples), task)
    if len(examples) < sizes.total:
        raise UserError(
            f"{task}: {len(examples)} examples, but the splits need {sizes.total} "
            f"({', '.join(f'{k}={v}' for k, v in sizes.as_dict().items())}); pass smaller --sizes"
        )
    ordered = sorted(examples, key=lambda ex: ex.id)
    if all(ex.group is None for ex in ordered):
        random.Random(split_seed).shuffle(ordered)
        return _cut(ordered, sizes)
    return _cut_groups(ordered, sizes, split_seed, task)


def _cut(ordered: list[Example], sizes: SplitSizes) -> Splits:
    cuts, start = {}, 0
    for name in SPLIT_NAMES:
        n = getattr(sizes, name)
        cuts[name] = ordered[start : start + n]
        start += n
    return Splits(**cuts)


def _cut_groups(ordered: list[Example], sizes: SplitSizes, split_seed: int, task: str) -> Splits:
    """Shuffle whole groups and give each to the first split with room for all of it.

    A split ends short only by less than the largest group (it had no room left for a whole one);
    a larger shortfall, or an empty split, means the task ran out of groups: a UserError.
    """
    groups: dict[tuple[bool, str], list[Example]] = {}
    for ex in ordered:  # an ungrouped example is its own group, in a namespace no named group can enter
        key = (False, ex.id) if ex.group is None else (True, ex.group)
        groups.setdefault(key, []).append(ex)
    keys = sorted(groups)
    random.Random(split_seed).shuffle(keys)
    room = sizes.as_dict()
    cuts: dict[str, list[Example]] = {name: [] for name in SPLIT_NAMES}
    for key in keys:
        members = groups[key]
        name = next((n for n in SPLIT_NAMES if room[n] >= len(members)), None)
        if name is not None:
            cuts[name] += members
            room[name] -= len(members)
    largest = max(len(members) for members in groups.values())
    wanted = sizes.as_dict()
    if short := {name: left for name, left in room.items() if left >= largest or left == wanted[name]}:
        raise UserError(
            f"{task}: not enough whole groups of examples to fill the splits (short by "
            f"{', '.join(f'{k}={v}' for k, v in short.items())}); pass smaller --sizes"
        )
    if any(room.values()):
        log.info("%s: splits short by %s (groups are kept whole)", task, room)
    return Splits(**cuts)
