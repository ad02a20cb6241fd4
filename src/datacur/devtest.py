"""``datasets/dev-test``: a fixed, honest stand-in for the competition's hidden test set.

Drawn once, stratified by class with a fixed seed from the starter train + val; an image
with a byte-identical or near-identical twin (pHash distance <= 4) takes its twin with it,
so no copy of a test image is left behind for training (issue 5). Every shipped recipe then
excludes the dev-test, and anything identical or near-identical to it, from its inputs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from datacur.dedupe import DEFAULT_NEAR_DISTANCE, ink_phash, ink_phashes, near_duplicate_pairs
from datacur.errors import DatacurError
from datacur.io import atomic_output_dir, atomic_write_text, sha256_file, verify_image
from datacur.journal import Decision, read_journal
from datacur.labels import CLASS_INDEX, CLASSES
from datacur.pool import Item, items_from_variant, unique_names
from datacur.variant import ManifestRow, write_manifest

__all__ = [
    "DEFAULT_DEV_TEST_SEED",
    "DEFAULT_DEV_TEST_SIZE",
    "DevTestSummary",
    "draw_dev_test",
    "ink_phash",
    "ink_phashes",
    "proportional_quotas",
    "twin_clusters",
]

DEFAULT_DEV_TEST_SIZE = 400
DEFAULT_DEV_TEST_SEED = 2021


def proportional_quotas(counts: dict[str, int], size: int) -> dict[str, int]:
    """Split ``size`` over classes in proportion to ``counts`` (largest remainder, exact sum).

    Example:
        >>> proportional_quotas({"i": 3, "ii": 1}, 2)
        {'i': 2, 'ii': 0}
    """
    total = sum(counts.values())
    if total == 0 or size <= 0:
        return dict.fromkeys(counts, 0)
    size = min(size, total)
    exact = {label: size * count / total for label, count in counts.items()}
    quotas = {label: int(value) for label, value in exact.items()}
    leftover = size - sum(quotas.values())
    by_remainder = sorted(exact, key=lambda label: (-(exact[label] - quotas[label]), label))
    for label in by_remainder[:leftover]:
        quotas[label] += 1
    return quotas


def twin_clusters(
    sha256s: Sequence[str], phashes: np.ndarray, *, max_distance: int = DEFAULT_NEAR_DISTANCE
) -> list[int]:
    """Cluster images joined by byte identity or pHash distance <= ``max_distance``.

    Returns:
        A cluster id per image (the smallest member index), transitive over chains of twins.
    """
    parent = list(range(len(sha256s)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        root_i, root_j = find(i), find(j)
        if root_i != root_j:
            parent[max(root_i, root_j)] = min(root_i, root_j)

    first: dict[str, int] = {}
    for index, digest in enumerate(sha256s):
        if digest in first:
            union(first[digest], index)
        else:
            first[digest] = index
    if max_distance >= 0:
        for i, j, _ in near_duplicate_pairs(phashes, max_distance=max_distance):
            union(i, j)
    return [find(i) for i in range(len(sha256s))]


@dataclass(frozen=True)
class DevTestSummary:
    """What :func:`draw_dev_test` drew."""

    out_dir: Path
    per_class: dict[str, int]
    quotas: dict[str, int]
    twins_taken: int
    pool_size: int

    @property
    def images(self) -> int:
        """Images in the dev-test."""
        return sum(self.per_class.values())


_README = """# dev-test: a stand-in for the hidden test set

{images} images of handwritten Roman numerals in `<class>/*.png` folders (usable as
`datacur evaluate --test datasets/dev-test`), drawn **once** from the starter data
(`{sources}`, train + val, {pool} images) by `datacur.devtest.draw_dev_test`:

```python
from pathlib import Path
from datacur.devtest import draw_dev_test
draw_dev_test([{source_args}], Path("datasets/dev-test"),
              size={size}, seed={seed}, max_distance={distance}{review_arg})
```

Method:

1. Every starter image is hashed: SHA-256 of the bytes, and a 64-bit pHash of its ink
   (`datacur.dedupe.ink_phash`: cropped to the ink with a 4 px margin, padded to a
   square, then pHash; the plain page's pHash chains unrelated numerals on white paper).
2. Images are joined into clusters of twins: byte-identical, or ink-pHash Hamming
   distance <= {distance} (transitively).
3. Per-class quotas are proportional to the class sizes in the pool ({size} in all,
   largest-remainder rounding).
4. For each class in order, its images are shuffled with `numpy.random.default_rng([{seed},
   class_index])`; an image is taken while the class is under its quota, and **its whole
   twin cluster comes with it** (so no copy of a test image is left in the training pool).
   Twins can push a class slightly over its quota; {twins} images came in as twins.

Per class (quota -> drawn): {table}

`manifest.csv` lists each image's origin in the starter data (`origin`), its SHA-256 and
its twin cluster (`cluster`). {review_text}

Every shipped recipe (`recipes/*.yaml`) excludes this folder and anything byte-identical
or near-identical (ink pHash <= {distance}) to it from its inputs (`exclude:` in the recipe).
Do not train on it; do not tune on it more than you must.
"""


def _review_text(decisions: dict[str, Decision], conflicts: int) -> str:
    if not decisions:
        return (
            "Labels are the starter labels, noise included (not reviewed yet; expect a few "
            f"wrong or junk labels). {conflicts} twin cluster(s) carry conflicting labels."
        )
    actions = Counter(decision.action for decision in decisions.values())
    return (
        "Labels were checked by hand (`review.jsonl`, applied by `draw_dev_test(..., "
        f"review=...)`): {actions['relabel']} relabelled, {actions['drop']} dropped as not a "
        "clear numeral of any class or as one of a twin pair filed under two labels; "
        "`decision` and `previous_label` in the manifest record them. How it was checked: "
        "`datacur noise` on the draw (5 folds x 15 epochs; out-of-fold accuracy 43.5%, too "
        "weak to rank label errors usefully), so every image was looked at on per-class "
        "contact sheets instead, and only clear cases were changed: an ambiguous image was "
        "dropped rather than guessed."
    )


def _read_review(review: Path | None, drawn: set[str]) -> dict[str, Decision]:
    """The review's final decision per drawn path; a path not in the draw is an error."""
    if review is None:
        return {}
    decisions = read_journal(Path(review))
    unknown = sorted(set(decisions) - drawn)
    if unknown:
        raise DatacurError(
            f"{review}: {len(unknown)} path(s) not in the drawn dev-test, e.g. {unknown[0]}. "
            "The journal must come from reviewing this exact draw (same sources and seed)."
        )
    return decisions


def draw_dev_test(
    sources: Sequence[Path],
    out_dir: Path,
    *,
    size: int = DEFAULT_DEV_TEST_SIZE,
    seed: int = DEFAULT_DEV_TEST_SEED,
    max_distance: int = DEFAULT_NEAR_DISTANCE,
    overwrite: bool = False,
    review: Path | None = None,
) -> DevTestSummary:
    """Draw a class-stratified held-out set whose twins come along, and write it.

    With ``review`` (a ``review.jsonl`` whose paths are ``<class>/<file>.png`` inside the
    drawn set), the hand-review decisions are applied as the set is written: dropped images
    are left out, relabelled ones go to their new class folder, and ``manifest.csv`` records
    ``decision`` and ``previous_label``; the journal is copied in as ``review.jsonl``. So
    the committed dev-test stays exactly reproducible: draw, then apply the journal.

    Args:
        sources: variants (``train/`` + ``val/``) to draw from, e.g. the starter data.
        out_dir: the dev-test folder, ``<class>/*.png`` plus ``manifest.csv`` and README.md.
        size: images to aim for (twins may add a few).
        seed: fixes the draw.
        max_distance: pHash distance that makes two images twins (-1: byte-identical only).
        overwrite: replace ``out_dir`` if it exists.
        review: optional review journal to apply (see above).

    Raises:
        DatacurError: no source images, ``size`` < 1, or ``out_dir`` exists without
            ``overwrite``.

    Example:
        >>> draw_dev_test([Path("datasets/dcai-2021")], Path("datasets/dev-test"))  # doctest: +SKIP
    """
    if size < 1:
        raise DatacurError(f"dev-test size must be >= 1 (received {size}).")
    items: list[Item] = []
    for source in sources:
        items.extend(items_from_variant(Path(source), source=Path(source).name))
    if not items:
        raise DatacurError(f"{', '.join(map(str, sources))}: no images to draw a dev-test from.")
    items = unique_names(items, prefix_source=False)
    sha256s = [sha256_file(item.file) for item in items]
    phashes = ink_phashes([item.file for item in items])
    clusters = twin_clusters(sha256s, phashes, max_distance=max_distance)
    members: dict[int, list[int]] = {}
    for index, cluster in enumerate(clusters):
        members.setdefault(cluster, []).append(index)

    counts = Counter(item.label for item in items)
    quotas = proportional_quotas({label: counts.get(label, 0) for label in CLASSES}, size)
    taken: set[int] = set()
    drawn: Counter[str] = Counter()
    twins = 0
    for label in CLASSES:
        candidates = [i for i, item in enumerate(items) if item.label == label]
        rng = np.random.default_rng([seed, CLASS_INDEX[label]])
        for position in rng.permutation(len(candidates)):
            if drawn[label] >= quotas[label]:
                break
            index = candidates[int(position)]
            if index in taken:
                continue
            for member in members[clusters[index]]:
                taken.add(member)
                drawn[items[member].label] += 1
                twins += member != index

    chosen = sorted(taken, key=lambda i: (CLASS_INDEX[items[i].label], items[i].name))
    decisions = _read_review(review, {f"{items[i].label}/{items[i].name}.png" for i in chosen})
    with atomic_output_dir(out_dir, overwrite=overwrite) as partial:
        rows = []
        for index in chosen:
            item = items[index]
            drawn_rel = f"{item.label}/{item.name}.png"
            decision = decisions.get(drawn_rel)
            if decision is not None and decision.action == "drop":
                continue
            label = (
                decision.to if decision is not None and decision.action == "relabel" else item.label
            )
            rel = f"{label}/{item.name}.png"
            target = partial / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = item.file.read_bytes()
            width, height = verify_image(item.file)
            target.write_bytes(data)
            row = ManifestRow(
                path=rel,
                split="test",
                label=label,
                source=item.source,
                origin=item.origin,
                parent="",
                writer=item.writer,
                transform="",
                sha256=sha256s[index],
                width=width,
                height=height,
            )
            reviewed = {
                "decision": decision.action if decision is not None else "",
                "previous_label": item.label if label != item.label else "",
            }
            rows.append({**asdict(row), "cluster": str(clusters[index]), **reviewed})
        extra = ("cluster", "decision", "previous_label") if review is not None else ("cluster",)
        write_manifest(partial, rows, extra_columns=extra)
        if review is not None:
            (partial / "review.jsonl").write_bytes(Path(review).read_bytes())
        per_class = Counter(items[i].label for i in chosen)
        labels_by_cluster: dict[int, set[str]] = {}
        for index in chosen:
            labels_by_cluster.setdefault(clusters[index], set()).add(items[index].label)
        conflicts = sum(1 for labels in labels_by_cluster.values() if len(labels) > 1)
        table = ", ".join(f"{c} {quotas[c]}->{per_class.get(c, 0)}" for c in CLASSES)
        atomic_write_text(
            partial / "README.md",
            _README.format(
                images=len(chosen),
                sources=", ".join(str(s) for s in sources),
                source_args=", ".join(f'Path("{s}")' for s in sources),
                pool=len(items),
                size=size,
                seed=seed,
                distance=max_distance,
                twins=twins,
                table=table,
                review_arg=(
                    ', review=Path("datasets/dev-test/review.jsonl")' if review is not None else ""
                ),
                review_text=_review_text(decisions, conflicts),
            ),
        )
    return DevTestSummary(
        out_dir=Path(out_dir),
        per_class={c: per_class.get(c, 0) for c in CLASSES},
        quotas=quotas,
        twins_taken=twins,
        pool_size=len(items),
    )
