"""Every shipped recipe builds the variant its content hash names.

The figures in the README and in the recipes' comments were measured on exactly these
bytes; a refactor that changes what a recipe builds makes them silently wrong. These pins
catch that: change a hash here only together with a note saying why the data changed
(and that the figures measured on the old data no longer hold).

Building all of them takes several minutes, so only ``best.yaml`` (the headline) runs in
the default suite; the rest carry the ``recipe_pins`` marker and run in CI as a second
step (``.ci/run``) or by hand: ``pytest -m recipe_pins``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from datacur.io import sha256_file
from datacur.mix import build_variant
from datacur.variant import compute_content_hash, list_variant_images
from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]

# recipe (relative to the repository) -> (content hash, sha256 of manifest.csv).
# The content hash is what the results database keys runs on; the manifest hash pins the
# recorded provenance (origins, parents, exact augment parameters) byte for byte.
PINS: dict[str, tuple[str, str]] = {
    "recipes/ablation/dedupe.yaml": (
        "38254acd27a8dcb94984f780f204151a316dbaa9334d6bfca8572750848d16f9",
        "1b0e3e850266ee7f0b68deaec8da8c9e7f29ec3db32d6f171ccb43e64efb8dec",
    ),
    "recipes/ablation/fill.yaml": (
        "6071ea929ab231d331869032efb85d8c74d77640e095042ec7e22919f699f329",
        "5fda9e7f1d2109994f338836df1c7a36f6fb98c4b2c1dfccd1ed52eba914d855",
    ),
    "recipes/ablation/flip.yaml": (
        "863c26b7a2bac7436afcc561e15771f7b166621656f932105a2ddbd7af8cf2cf",
        "a1a24080ff17615daa60894ca00a6ea9e293f3487ba11476c62a0139816fa1ed",
    ),
    "recipes/ablation/labelbook.yaml": (
        "5e321cb2af8d0ea2e20c20a636f5d5742111eb4cb26f9cdc0d43cb11d4b6b645",
        "26aed97f1e8140c2957691f2737a5cb1260b2cb10f9aa081985fbdfe23efcd2b",
    ),
    "recipes/ablation/resplit.yaml": (
        "300a96d18b6771b6fa4e2fe9c7ddecb96ac3e33668dd041d6001f093cbe5f473",
        "726971ec07ef2791ffddd714eb559362dbf1891e2ce292972bd34b2b75444f00",
    ),
    "recipes/ablation/review.yaml": (
        "ed76b5ce9840380559d26f9620b838c3b3004cc56a3521e2288907d00329149e",
        "69015dcde46b8d35d967b9db430cdafe188cef82397565fd90ccecca7f6db0f3",
    ),
    "recipes/best-10k-resplit.yaml": (
        "7e1b91b60816dc91f2964b0fd9cedf484ad72501dc841389a6a835f77eec271e",
        "824585b088fc83d47aea34f40b641afc676b30b5983b89b670e9d48d7606085f",
    ),
    "recipes/best-10k.yaml": (
        "f3e29698c9732300dad91a9981f49f2a6a90377e4ea8b3ad1f867c3d300eceb6",
        "3f955d73ef3527489a115ddcde4bd6b4c630c45de207e55a82432a10024de215",
    ),
    "recipes/best-5k.yaml": (
        "979fc9243c81fbe5537e2bee9202539d851dc288b16e4e0d31736dd2cb4fe6e3",
        "a4170e3b04a4903630e0d0bc7f50d0c05eec31dbb7f4b542066af739cb018100",
    ),
    "recipes/best-flipmixed.yaml": (
        "9b3691cd33fe4c5129b71364bd6d4ef64b659ecb5465c1d23ef513dc853ddd46",
        "6fb623fc23cc6fcb4f37288db2f6006385d43ef3ef3b7c12dbff3113f0c819c1",
    ),
    "recipes/best-wide-tone.yaml": (
        "47aa395dfc516a81ff4fa40302b93d1816cd56b1aaab4bfc3102bc6ea078f30c",
        "173c52227602c7e1487ca1183d5ccdee25fd501ecb094011deffb8b256354102",
    ),
    "recipes/best-wide.yaml": (
        "cfa25b293402064742428518c966639f6223fcc3daa7204402fdaa01ebbf67ec",
        "fc45e508e661b5d14dee2302f75ead6d20fd55e7d84e049dce53d4b06cf7e4b4",
    ),
    "recipes/best-zoom.yaml": (
        "23788ae6a4a5a171e7faab8133b8e116df2bd8f569720ce525ba1f60eaac4119",
        "4a03135b470256131dd836a8207a8dba8fb0df87e9a9b9c539fc47883b39e173",
    ),
    # Changed on purpose (issue 20, 2026-12-03): best.yaml is now what best-halfwide.yaml
    # built (one flip-wide-tone copy per real train image added); the former best.yaml is
    # best-flipmixed.yaml and builds its old bytes.
    "recipes/best.yaml": (
        "5547369730d41f4636ebec335328d5ce7876e4b68f9488ef147a5fc543b3fe9b",
        "95373fcd6924d9f9c12adfc5e9c9bf549a8f82eb488c1b962a65e8be43c2e15c",
    ),
    "recipes/clean.yaml": (
        "743dbad1bb8f10e30ec4731c3f7b7226e20c7e7de77028cab5f24c2b27f3687f",
        "719cf3ecd1cca680b01a0f20187c6e91d8789300eca52f74b2619ca620a403cc",
    ),
    # Changed on purpose (issue 20): its Chars74K synth now draws from the 40 writers that
    # are not held out for datasets/shift-chars74k-writers (it used all 55).
    "recipes/combined.yaml": (
        "21cd36777fb70610d42b71b1ac4e33985930a6153cc0b93c2ae7b116aff6bc7c",
        "15bf7974a6f97443af9b7dbb0d8d4e1ff152254fc3994fce4c411085c5071007",
    ),
    "recipes/raw.yaml": (
        "0e4db9cda56418c5cd44ee6eb8987ef6c9411fef59d6ed5aacc077d18aa34f5e",
        "ffa448e2c42447c8a1fa17b8158b5f0ccfb63c4fecc9f1e582002e0aee844533",
    ),
}

# Recipes whose optional inputs read ../shared/data: when it is absent the recipe builds
# without them (a different variant), so their pins only hold with the data present.
NEEDS_SHARED = {"recipes/combined.yaml"}

HEADLINE = "recipes/best.yaml"


def _params() -> list[object]:
    return [
        pytest.param(
            recipe,
            marks=() if recipe == HEADLINE else (pytest.mark.recipe_pins,),
            id=Path(recipe).stem if "ablation" not in recipe else f"ablation-{Path(recipe).stem}",
        )
        for recipe in sorted(PINS)
    ]


def test_every_shipped_recipe_is_pinned() -> None:
    shipped = {
        path.relative_to(REPO).as_posix()
        for pattern in ("recipes/*.yaml", "recipes/ablation/*.yaml")
        for path in REPO.glob(pattern)
    }
    assert shipped == set(PINS), "pin the new recipe's hashes here (or drop the stale pin)"


def test_readme_names_the_headline_hash() -> None:
    content_hash = PINS[HEADLINE][0]
    assert content_hash[:12] in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_showcase_reports_are_of_the_headline_recipe() -> None:
    """docs/best-report (and the comparison beside it) must show what best.yaml builds
    today: regenerate them (README, "The best dataset") whenever its pin changes."""
    content_hash = PINS[HEADLINE][0]
    for page in ("docs/best-report/index.html", "docs/best-vs-flipmixed/index.html"):
        assert content_hash[:12] in (REPO / page).read_text(encoding="utf-8"), page


@pytest.mark.parametrize("recipe", _params())
def test_recipe_builds_its_pinned_bytes(recipe: str, tmp_path: Path) -> None:
    if recipe in NEEDS_SHARED and not SHARED_DATA.is_dir():
        pytest.skip(f"{recipe} reads optional inputs from {SHARED_DATA}, which is absent")
    out = tmp_path / "variant"
    build_variant(REPO / recipe, out)
    content_hash = compute_content_hash(list_variant_images(out, allow_empty_class=True))
    assert (content_hash, sha256_file(out / "manifest.csv")) == PINS[recipe]
