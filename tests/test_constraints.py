"""constraints.txt pins every dependency, and the README's install lines use it (issue 23)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: {line!r} is not an exact pin (NAME==VERSION)"
        pins[canonicalize_name(name)] = version
    return pins


def test_every_declared_dependency_is_pinned_within_its_bounds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pins = _pins()
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} breaks pyproject's {requirement.specifier}"
        )


def test_transitive_dependencies_are_pinned_too() -> None:
    pins = _pins()
    # a few that only arrive through other packages, and whose drift changes pixels or numbers
    for name in ("opencv-python-headless", "albucore", "numpy", "scipy", "h5py", "ml-dtypes"):
        assert name in pins


def test_readme_install_lines_use_the_constraints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"pip install[^\n`]*", readme)
    assert len(installs) >= 2
    for line in installs:
        assert "-c constraints.txt" in line, f"README install line without constraints: {line}"
    for marker in ("<!-- main-command -->", "<!-- test-command -->"):
        block = readme.split(marker, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
        assert "pip install -c constraints.txt -e " in block
