"""The README documents every setting, as ``featviz.settings.Settings`` defines it."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from featviz.settings import Settings
from tests.helpers.paths import REPO_ROOT


def settings_table_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_table", REPO_ROOT / "scripts/settings_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_in_the_readme_table() -> None:
    script = settings_table_script()
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme[readme.index(script.BEGIN) : readme.index(script.END)]
    missing = [name for name in Settings.model_fields if f"`FEATVIZ_{name.upper()}`" not in table]
    assert not missing, f"run scripts/settings_table.py: {missing} are not documented"
    assert script.with_table(readme) == readme, "run scripts/settings_table.py: the table is stale"


def test_the_readme_image_exists_and_is_small() -> None:
    image = REPO_ROOT / "docs/images/contact-sheet.png"
    assert "(docs/images/contact-sheet.png)" in (REPO_ROOT / "README.md").read_text()
    assert 0 < image.stat().st_size < 200_000
