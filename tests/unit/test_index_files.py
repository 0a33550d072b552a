"""Index files (search/files.py), the vocabulary as arrays, and the settings file."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from peergraph.search import files
from peergraph.search.files import IndexFolder, open_arrays
from peergraph.search.lexical import Terms
from peergraph.settings import ConfigError, Settings


def test_terms_find_every_term_and_nothing_else():
    words = sorted({"graph", "neural", "é", "über", "a", "zeta", "network", "networks", "x" * 64})
    terms = Terms.from_sorted(words)
    assert len(terms) == len(words)
    for position, word in enumerate(words):
        assert terms.get(word) == position
    for absent in ("", "b", "net", "networkz", "ü", "zz"):
        assert terms.get(absent) is None
    assert Terms.from_sorted([]).get("anything") is None


def test_a_published_index_is_mapped_read_only_and_replaces_the_old_one(tmp_path):
    folder = IndexFolder(tmp_path)
    assert folder.current("lexical") is None
    first = folder.publish("lexical", "works1", {"ids": np.arange(3)}, {"generations": {"w": 1}})
    second = folder.publish("lexical", "works2", {"ids": np.arange(5)}, {"generations": {"w": 2}})
    assert folder.current("lexical") == second and not first.exists()
    arrays, meta = open_arrays(second)
    ids = arrays["ids"]  # a view of the mapped file, read-only
    assert isinstance(ids.base, np.memmap) and not ids.flags.writeable
    assert arrays["ids"].tolist() == [0, 1, 2, 3, 4] and meta["generations"] == {"w": 2}
    assert not list(folder.root.glob(".*.tmp"))  # nothing half-written left behind


def test_refresh_builds_once_then_maps_and_rebuilds_for_a_new_generation(tmp_path):
    folder = IndexFolder(tmp_path)
    builds: list[int] = []

    def build(n: int):
        def run():
            builds.append(n)
            return {"ids": np.arange(n)}, {}

        return run

    files.refresh(folder, "k", {"works": 1}, build=build(2))  # type: ignore[misc]
    again, _ = files.refresh(folder, "k", {"works": 1}, build=build(9))  # type: ignore[misc]
    assert builds == [2] and again["ids"].tolist() == [0, 1]
    newer, meta = files.refresh(folder, "k", {"works": 2}, build=build(4))  # type: ignore[misc]
    assert builds == [2, 4] and newer["ids"].tolist() == [0, 1, 2, 3]
    assert meta["generations"] == {"works": 2}


def test_files_removed_by_a_newer_build_are_never_half_read(tmp_path):
    """Another process's publish removes the old folder, possibly while this one is
    between reading the pointer and opening the files: no error, no half index."""
    folder = IndexFolder(tmp_path)
    first = folder.publish("k", "w1", {"ids": np.arange(3), "x": np.ones(3)}, {})
    second = folder.publish("k", "w2", {"ids": np.arange(4), "x": np.ones(4)}, {})
    (second / "x.npy").unlink()  # the remover is half-way through this folder
    with pytest.raises(FileNotFoundError):
        files.open_arrays(second)  # never the arrays that happen to be left
    (folder.root / "k.current").write_text(first.name)  # a pointer read before the removal
    rebuilt = files.refresh(folder, "k", {"works": 5}, build=lambda: ({"ids": np.arange(5)}, {}))
    assert rebuilt is not None and rebuilt[0]["ids"].tolist() == [0, 1, 2, 3, 4]


def test_while_another_process_builds_nobody_else_does(tmp_path):
    folder = IndexFolder(tmp_path)
    folder.root.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; h = open(sys.argv[1], 'a+b');"
            " fcntl.flock(h, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
            str(folder.root / "k.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

        def build():
            raise AssertionError("built while another process held the lock")

        assert files.refresh(folder, "k", {"works": 1}, build=build) is None
    finally:
        holder.kill()
        holder.communicate()
    found = files.refresh(folder, "k", {"works": 1}, build=lambda: ({"x": np.ones(1)}, {}))
    assert found is not None and found[0]["x"].tolist() == [1.0]


def test_settings_file_in_the_data_folder_and_the_environment_wins(tmp_path):
    (tmp_path / "peergraph.toml").write_text(
        'database_url = "postgresql://u@127.0.0.1:5/db"\nallowed_hosts = ["a.org", "b.org"]\n'
        "max_json_depth = 9\n"
    )
    settings = Settings.from_env({}, data_dir=tmp_path)
    assert settings.database_url == "postgresql://u@127.0.0.1:5/db"
    assert settings.allowed_hosts == ("a.org", "b.org") and settings.max_json_depth == 9
    assert not settings.is_sqlite
    env = {"PEERGRAPH_DATABASE_URL": "sqlite:///elsewhere.sqlite3"}
    assert Settings.from_env(env, data_dir=tmp_path).database_url == env["PEERGRAPH_DATABASE_URL"]
    assert Settings.for_data_dir(tmp_path).database_url == settings.database_url


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('database_urll = "x"\n', "unknown setting 'database_urll'"),
        ("database_url = \n", "not a readable TOML file"),
        ("max_json_depth = true\n", "must be a string or a whole number"),
        ("max_json_depth = 0\n", "PEERGRAPH_MAX_JSON_DEPTH must be a positive whole number"),
    ],
)
def test_a_bad_settings_file_is_refused_with_file_and_reason(tmp_path, content, reason):
    (tmp_path / "peergraph.toml").write_text(content)
    with pytest.raises(ValueError) as caught:
        Settings.from_env({}, data_dir=tmp_path)
    assert reason in str(caught.value)
    if caught.type is ConfigError:
        assert str(tmp_path / "peergraph.toml") in str(caught.value)


def test_a_named_config_file_must_exist(tmp_path):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="no such config file"):
        Settings.from_env({"PEERGRAPH_CONFIG": str(missing)}, data_dir=tmp_path)
    assert not os.path.exists(missing)
