"""The object-store contract, held by both backends: a local folder and GCS (on the emulator)."""

from __future__ import annotations

import os

import pytest

from retrain_assets.adapters.storage import GCSObjectStore, LocalObjectStore
from retrain_assets.pipeline.resources import open_store


@pytest.fixture(params=["local", pytest.param("gcs", marks=pytest.mark.service)])
def store(request, tmp_path):
    if request.param == "local":
        return LocalObjectStore(tmp_path / "store")
    bucket = request.getfixturevalue("gcs_bucket")
    store = open_store(bucket.url("team/landing"))
    assert isinstance(store, GCSObjectStore)
    return store


def test_list_returns_only_keys_under_the_prefix_relative_to_the_store(store):
    for key in ("2025-01-01/a.csv", "2025-01-01/b.parquet", "2025-01-02/a.csv",
                "_quarantine/2025-01-01/x/a.csv"):
        store.write_bytes(key, b"x")

    assert [o.key for o in store.list("2025-01-01/")] == ["2025-01-01/a.csv",
                                                          "2025-01-01/b.parquet"]
    assert [o.key for o in store.list()] == [
        "2025-01-01/a.csv", "2025-01-01/b.parquet", "2025-01-02/a.csv",
        "_quarantine/2025-01-01/x/a.csv"]
    assert store.list("2025-02") == []


def test_write_then_read_round_trips_bytes_and_reports_size(store):
    store.write_bytes("day/file.parquet", b"\x00\x01payload")

    assert store.read_bytes("day/file.parquet") == b"\x00\x01payload"
    [obj] = store.list("day/")
    assert obj.size == len(b"\x00\x01payload")
    assert obj.updated > 0


def test_rewrite_replaces_content_and_changes_the_version(store):
    store.write_bytes("day/file.csv", b"first")
    before = store.list("day/")[0].version

    store.write_bytes("day/file.csv", b"second, longer")

    [after] = store.list("day/")
    assert store.read_bytes("day/file.csv") == b"second, longer"
    assert after.version != before


@pytest.mark.service
def test_gcs_rewrite_with_identical_bytes_gets_a_new_generation(gcs_bucket):
    """A user re-landing the very same file on GCS is a new arrival the landing zone can see."""
    store = open_store(gcs_bucket.url("landing"))
    store.write_bytes("day/file.csv", b"same")
    before = store.list("day/")[0].version

    store.write_bytes("day/file.csv", b"same")

    assert store.list("day/")[0].version != before


def test_move_relocates_the_object_and_keeps_its_bytes(store):
    store.write_bytes("2025-01-01/bad.csv", b"a,b\n1,2\n")

    store.move("2025-01-01/bad.csv", "_quarantine/2025-01-01/t/bad.csv")

    assert not store.exists("2025-01-01/bad.csv")
    assert store.exists("_quarantine/2025-01-01/t/bad.csv")
    assert store.read_bytes("_quarantine/2025-01-01/t/bad.csv") == b"a,b\n1,2\n"
    assert [o.key for o in store.list()] == ["_quarantine/2025-01-01/t/bad.csv"]


def test_exists_and_reading_a_missing_key_names_it(store):
    assert not store.exists("nothing/here.csv")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("nothing/here.csv")
    store.write_bytes("nothing/here.csv", b"now")
    assert store.exists("nothing/here.csv")


@pytest.mark.service
def test_gcs_store_lives_under_its_prefix_and_reports_gs_urls(gcs_bucket):
    store = open_store(gcs_bucket.url("team/landing/"))
    store.write_bytes("2025-01-01/a.csv", b"x")
    gcs_bucket.client.bucket(gcs_bucket.name).blob("team/landing/2025-01-01/").upload_from_string(
        b"")  # a "folder" placeholder as the Cloud Console creates them
    gcs_bucket.client.bucket(gcs_bucket.name).blob("elsewhere/a.csv").upload_from_string(b"y")

    names = [b.name for b in gcs_bucket.client.list_blobs(gcs_bucket.name)]
    assert "team/landing/2025-01-01/a.csv" in names
    assert [o.key for o in store.list()] == ["2025-01-01/a.csv"]
    assert store.url == f"gs://{gcs_bucket.name}/team/landing"
    with pytest.raises(FileNotFoundError, match=f"gs://{gcs_bucket.name}/team/landing/b.csv"):
        store.read_bytes("b.csv")


def test_gcs_store_rejects_a_url_without_a_bucket():
    with pytest.raises(ValueError, match="expected gs://bucket/prefix"):
        GCSObjectStore(client=None, url="gs:///prefix")


def test_move_never_replaces_an_object_already_at_the_target(tmp_path):
    store = LocalObjectStore(tmp_path / "store")
    store.write_bytes("2025-01-01/north/trips.csv", b"north")
    store.write_bytes("_quarantine/2025-01-01/t/trips.csv", b"south, quarantined earlier")

    with pytest.raises(FileExistsError):
        store.move("2025-01-01/north/trips.csv", "_quarantine/2025-01-01/t/trips.csv")

    assert store.read_bytes("_quarantine/2025-01-01/t/trips.csv") == b"south, quarantined earlier"
    assert store.read_bytes("2025-01-01/north/trips.csv") == b"north"


def test_create_bytes_writes_only_where_nothing_is(store):
    store.create_bytes("q/note.json", b"first")

    with pytest.raises(FileExistsError):
        store.create_bytes("q/note.json", b"second")

    assert store.read_bytes("q/note.json") == b"first"
    assert [o.key for o in store.list()] == ["q/note.json"]  # no temp file left behind


def test_local_unlisted_names_symlinks_and_empty_folders(tmp_path):
    store = LocalObjectStore(tmp_path / "store")
    store.write_bytes("2025-01-01/trips.csv", b"x")
    (tmp_path / "store" / "2025-01-02").mkdir()
    (tmp_path / "store" / "2025-01-03").mkdir()
    (tmp_path / "store" / "2025-01-03" / "trips.csv").symlink_to(tmp_path / "store" /
                                                                 "2025-01-01" / "trips.csv")

    assert store.unlisted("2025-01-01") == []
    assert store.unlisted("2025-01-02") == ["2025-01-02/ (an empty folder)"]
    assert store.unlisted("2025-01-03") == [
        "2025-01-03/trips.csv (a symbolic link, which is never followed)"]
    assert store.list("2025-01-03") == []


def test_gcs_move_copies_only_onto_a_free_name_and_says_which_is_taken():
    """The copy carries `if_generation_match=0`, which GCS refuses (412) when the name is taken.
    fake-gcs-server ignores preconditions on copies, so this is held against a recording fake."""
    from google.api_core.exceptions import PreconditionFailed

    class Bucket:
        def __init__(self):
            self.copies = []

        def blob(self, name):
            return name

        def copy_blob(self, blob, bucket, new_name, **preconditions):
            self.copies.append((blob, new_name, preconditions))
            raise PreconditionFailed("At least one of the pre-conditions you specified did not "
                                     "hold.")

    class Client:
        def bucket(self, name):
            return Bucket()

    store = GCSObjectStore(Client(), "gs://feeds/zone")
    with pytest.raises(FileExistsError, match="gs://feeds/zone/_quarantine/t/trips.csv"):
        store.move("2025-01-01/trips.csv", "_quarantine/t/trips.csv")
    assert store.bucket.copies == [("zone/2025-01-01/trips.csv", "zone/_quarantine/t/trips.csv",
                                    {"if_generation_match": 0})]


def test_stat_describes_one_object_as_list_does_and_list_from_starts_at_a_key(store):
    for key in ("2025-01-01/a.csv", "2025-01-02/a.csv", "2025-01-03/a.csv"):
        store.write_bytes(key, b"x")

    assert store.stat("2025-01-02/a.csv") == store.list("2025-01-02/")[0]
    with pytest.raises(FileNotFoundError, match="2025-01-09/a.csv"):
        store.stat("2025-01-09/a.csv")
    assert [o.key for o in store.list_from("2025-01-02")] == ["2025-01-02/a.csv",
                                                              "2025-01-03/a.csv"]


def test_local_top_entries_stamp_a_folder_when_a_file_lands_in_it(tmp_path):
    store = LocalObjectStore(tmp_path / "store")
    assert store.top_entries() == []  # no root yet
    store.write_bytes("2025-01-01/a.csv", b"x")
    store.write_bytes("2025-01-02.csv", b"x")
    assert {(e.name, e.is_folder) for e in store.top_entries()} == {
        ("2025-01-01", True), ("2025-01-02.csv", False)}
    folder = tmp_path / "store" / "2025-01-01"
    os.utime(folder, ns=(0, 0))  # an old stamp, so the landing below must change it
    stamp = {e.name: e.stamp for e in store.top_entries()}["2025-01-01"]
    store.write_bytes("2025-01-01/b.csv", b"y")
    assert {e.name: e.stamp for e in store.top_entries()}["2025-01-01"] != stamp
    (tmp_path / "store" / "2025-01-03.csv").symlink_to(tmp_path / "store" / "2025-01-02.csv")
    with pytest.raises(FileNotFoundError):  # a symbolic link is never followed, as in list()
        store.stat("2025-01-03.csv")
