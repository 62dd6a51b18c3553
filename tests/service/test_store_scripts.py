"""The store's Lua scripts: each composes with its fragments, compiles in a real redis-server,
says in its header exactly the KEYS and ARGV it uses, and is called only as its header says."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import get_args

import pytest
import redis

from featviz.store.outcomes import CLAIM_OUTCOMES, REAP_OUTCOMES, parse_outcome
from featviz.store.scripts import LUA, SCRIPTS, ScriptCallError, ScriptName, Scripts
from tests.helpers.paths import REPO_ROOT

LUA_DIR = Path(str(LUA))


def indices(source: str, table: str) -> set[int]:
    return {int(index) for index in re.findall(rf"\b{table}\[(\d+)\]", source)}


def test_every_script_file_is_a_named_script() -> None:
    assert {path.stem for path in LUA_DIR.glob("*.lua")} == set(get_args(ScriptName))


@pytest.mark.parametrize("name", get_args(ScriptName))
def test_a_header_names_exactly_the_keys_and_arguments_its_script_uses(name: ScriptName) -> None:
    script = SCRIPTS[name]
    assert indices(script.source, "KEYS") == set(range(1, len(script.keys) + 1))
    used = indices(script.source, "ARGV")
    if script.more_args:
        assert "#ARGV" in script.source
        assert used <= set(range(1, len(script.args) + 2))
        assert set(range(1, len(script.args) + 1)) <= used
    else:
        assert used == set(range(1, len(script.args) + 1))


@pytest.mark.parametrize("name", get_args(ScriptName))
def test_fragments_and_the_key_layout_are_put_in_once(name: ScriptName) -> None:
    source = SCRIPTS[name].source
    assert "--#include" not in source
    assert "$" not in source
    defined = re.findall(r"^local function (\w+)", source, re.MULTILINE)
    assert len(defined) == len(set(defined)), f"{name}.lua defines a function twice"
    called = set(
        re.findall(r"\b(count_move|now_s|finished|settle|cancel_requested|await_claim)\(", source)
    )
    assert called <= set(defined), f"{name}.lua calls a helper it does not include"


def test_the_shared_fragments_replace_the_copies() -> None:
    for name in ("claim", "reap", "transition", "request_cancel"):
        source = SCRIPTS[name].source
        assert source.count("local function settle(") == 1
        assert source.count("'finished_at'") == 1, f"{name}.lua finishes a job by hand"
    assert "fv:owner-counts:" in SCRIPTS["claim"].source


def test_every_script_compiles_in_redis(clean_redis: str) -> None:
    client = redis.Redis.from_url(clean_redis, decode_responses=True)
    for script in SCRIPTS.values():
        assert client.script_load(script.source)


def test_a_call_that_disagrees_with_the_header_is_refused(clean_redis: str) -> None:
    scripts = Scripts(redis.Redis.from_url(clean_redis, decode_responses=True))
    with pytest.raises(ScriptCallError, match="KEYS"):
        scripts.run("transition", keys=["a", "b"], args=["now", "failed", "", "", "running"])
    with pytest.raises(ScriptCallError, match="ARGV"):
        scripts.run("heartbeat", keys=["fv:job:x", "fv:leases"], args=["now", 1])
    with pytest.raises(ScriptCallError, match="ARGV"):
        scripts.run("transition", keys=["a", "b", "c"], args=["now", "failed", ""])
    # Statuses to move from follow the fixed arguments, as many as the caller allows.
    assert not scripts.run("transition", keys=["a", "b", "c"], args=["now", "failed", "", ""])
    assert not scripts.run("heartbeat", keys=["fv:job:x", "fv:leases"], args=["now", 1, 30])


def test_outcomes_outside_their_type_are_errors() -> None:
    assert parse_outcome(CLAIM_OUTCOMES, "leased") == "leased"
    assert parse_outcome(REAP_OUTCOMES, "requeued") == "requeued"
    with pytest.raises(ValueError, match="unexpected outcome"):
        parse_outcome(CLAIM_OUTCOMES, "requeued")


def test_the_scripts_are_packaged() -> None:
    globs = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["featviz"]
    package = REPO_ROOT / "featviz"
    for path in LUA_DIR.rglob("*.lua"):
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch(relative, glob) for glob in globs), f"{relative} is not packaged"
