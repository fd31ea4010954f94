"""The object-store contract, held by both backends: a local folder and GCS (on the emulator)."""

from __future__ import annotations

import pytest

from retrain_assets.resources import open_store
from retrain_assets.storage import GCSObjectStore, LocalObjectStore


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
