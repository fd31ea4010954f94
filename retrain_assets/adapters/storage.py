"""Object storage behind the landing zone and the asset store: a local folder or GCS.

Both backends expose the same operations, so nothing above this module knows where bytes
live. Writes are atomic on both (temp file + rename locally; GCS objects appear only once their
upload completes), so a reader never sees a half-written partition. Moves and `create_bytes`
never replace an object that is already there: what a user gave us is never overwritten.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str  # path relative to the store root, with "/" separators
    size: int
    updated: float  # seconds since the epoch
    version: str  # changes on every rewrite (mtime+size locally, generation on GCS)
    readable: bool = True  # False: this process may not read it (local file mode; see stored())


class TopEntry(NamedTuple):
    """A name at the top of a store with a stamp that changes when it does: a folder's when an
    entry in it is created, renamed or removed (not when a file in it is rewritten in place),
    a file's when it is rewritten. A tuple: a zone has one per day, made on every sensor tick."""

    name: str
    is_folder: bool
    stamp: int  # modification time, ns


class ObjectStore(Protocol):
    url: str

    def list(self, prefix: str = "") -> list[StoredObject]: ...
    def list_from(self, start: str) -> list[StoredObject]: ...  # keys sorting at/after start
    def top_entries(self) -> list[TopEntry] | None: ...  # None: the store has no such stamps
    def stat(self, key: str) -> StoredObject: ...  # FileNotFoundError if no object is there
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def create_bytes(self, key: str, data: bytes) -> None: ...  # FileExistsError if taken
    def move(self, src: str, dst: str) -> None: ...  # FileExistsError if dst is taken
    def exists(self, key: str) -> bool: ...
    def unlisted(self, prefix: str = "") -> list[str]: ...


def join_url(url: str, key: str) -> str:
    return f"{url.rstrip('/')}/{key}"


class LocalObjectStore:
    """A folder on local disk; the embedded default."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        self._root_prefix = len(os.path.join(self.url, ""))  # "/data/zone/" (or "/")

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"key {key!r} escapes the store root {self.root}")
        return path

    def _key(self, entry: os.DirEntry) -> str:
        """The entry's path relative to the root, with `/` (string slicing: this runs for every
        entry of a zone's root on each sensor tick)."""
        return entry.path[self._root_prefix:].replace(os.sep, "/")

    def _walk(self, directory: Path, prefix: str) -> Iterator[os.DirEntry]:
        """Files under `directory` whose key starts with `prefix`, pruning other subtrees."""
        for entry in os.scandir(directory):
            key = self._key(entry)
            if entry.is_dir(follow_symlinks=False):
                if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                    yield from self._walk(Path(entry.path), prefix)
            elif entry.is_file(follow_symlinks=False) and key.startswith(prefix) \
                    and not entry.name.startswith(".tmp-"):
                yield entry

    def list(self, prefix: str = "") -> list[StoredObject]:
        """Walks only the folder the prefix names (`2025-01-01/` lists that day's folder, not
        the whole zone: a zone holds a folder per day for years)."""
        folder = prefix.rpartition("/")[0]
        start = self._path(folder) if folder else self.root
        if not start.is_dir():
            return []
        return sorted((self.stored(entry) for entry in self._walk(start, prefix)),
                      key=lambda o: o.key)

    def list_from(self, start: str) -> list[StoredObject]:
        """A full listing, filtered: a folder cannot be listed from a name on (the landing watch
        uses `top_entries` here instead)."""
        return [o for o in self.list() if o.key >= start]

    def top_entries(self) -> list[TopEntry]:
        """The root's folders and files with their modification stamps: one `scandir` and one
        `lstat` an entry, nothing read below them (none if the root does not exist yet)."""
        if not self.root.is_dir():
            return []
        return [TopEntry(entry.name, entry.is_dir(follow_symlinks=False),
                         entry.stat(follow_symlinks=False).st_mtime_ns)
                for entry in os.scandir(self.root) if not entry.name.startswith(".tmp-")]

    def stat(self, key: str) -> StoredObject:
        """The file at `key` as `list` describes it; a symbolic link is none (never followed)."""
        path = self._path(str(Path(key).parent)) / Path(key).name
        if path.is_symlink() or not path.is_file():
            raise FileNotFoundError(f"no file at {join_url(self.url, key)}")
        stat = path.stat()
        return StoredObject(key=key, size=stat.st_size, updated=stat.st_mtime,
                            version=f"{stat.st_mtime_ns}-{stat.st_size}",
                            readable=os.access(path, os.R_OK))

    def stored(self, entry: os.DirEntry) -> StoredObject:
        """The object a file under the root is; its version changes with every rewrite.
        Readability is asked of the OS (one `access` call), because a `chmod` changes neither
        the version nor the folder: the landing zone needs to see a file become readable."""
        stat = entry.stat()
        return StoredObject(key=self._key(entry), size=stat.st_size, updated=stat.st_mtime,
                            version=f"{stat.st_mtime_ns}-{stat.st_size}",
                            readable=os.access(entry.path, os.R_OK))

    def unlisted(self, prefix: str = "") -> list[str]:
        """What `list` leaves out under the prefix's folder, as `key (why)`: symbolic links
        (never followed: they can point outside the root) and empty folders."""
        folder = prefix.rpartition("/")[0]
        start = self._path(folder) if folder else self.root
        return sorted(self._unlisted(start, prefix)) if start.is_dir() else []

    def _unlisted(self, directory: Path, prefix: str) -> Iterator[str]:
        for entry in os.scandir(directory):
            key = self._key(entry)
            if entry.is_symlink() and key.startswith(prefix):
                yield f"{key} (a symbolic link, which is never followed)"
            elif entry.is_dir(follow_symlinks=False) and (
                    (key + "/").startswith(prefix) or prefix.startswith(key + "/")):
                with os.scandir(entry.path) as inside:
                    empty = next(inside, None) is None
                if empty and (key + "/").startswith(prefix):
                    yield f"{key}/ (an empty folder)"
                else:
                    yield from self._unlisted(Path(entry.path), prefix)

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        self._write(key, data, replace=True)

    def create_bytes(self, key: str, data: bytes) -> None:
        """Write `key` only if nothing is there yet (FileExistsError otherwise), atomically."""
        self._write(key, data, replace=False)

    def _write(self, key: str, data: bytes, *, replace: bool) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if replace:
                os.replace(tmp, path)
            else:  # a hard link fails if the name is taken, where a rename would replace it
                os.link(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def move(self, src: str, dst: str) -> None:
        """Link then unlink: unlike a rename, linking refuses (FileExistsError) a taken name."""
        source, target = self._path(src), self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target, follow_symlinks=False)
        source.unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class GCSObjectStore:
    """A bucket prefix on Google Cloud Storage, through a `google.cloud.storage.Client`.

    An object's generation is its version: GCS gives every rewrite a new one, which is what
    lets the landing zone tell a re-landed day from one it has already seen.
    """

    def __init__(self, client, url: str):
        # the Google libraries only for gs://
        from google.api_core.exceptions import Forbidden, NotFound, PreconditionFailed

        self._not_found, self._forbidden, self._taken = NotFound, Forbidden, PreconditionFailed
        if not url.startswith("gs://") or not url[len("gs://"):].split("/", 1)[0]:
            raise ValueError(f"not a GCS URL: {url!r} (expected gs://bucket/prefix)")
        bucket, _, prefix = url[len("gs://"):].partition("/")
        self.url = url.rstrip("/")
        self.bucket = client.bucket(bucket)
        self.client = client
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def _blob_name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _stored(self, blob) -> StoredObject:
        return StoredObject(key=blob.name[len(self.prefix):], size=blob.size or 0,
                            updated=blob.updated.timestamp() if blob.updated else 0.0,
                            version=str(blob.generation))

    def list(self, prefix: str = "") -> list[StoredObject]:
        blobs = self.client.list_blobs(self.bucket, prefix=self._blob_name(prefix))
        return sorted((self._stored(blob) for blob in blobs
                       if not blob.name.endswith("/")),  # skip "folder" placeholders
                      key=lambda o: o.key)

    def list_from(self, start: str) -> list[StoredObject]:
        """One listing request from `start` on: GCS lists names in lexicographic order."""
        blobs = self.client.list_blobs(self.bucket, prefix=self.prefix,
                                       start_offset=self._blob_name(start))
        return [self._stored(blob) for blob in blobs if not blob.name.endswith("/")]

    def top_entries(self) -> None:
        """None: a bucket has no folders, so nothing stamps what changed under a name."""
        return None

    def stat(self, key: str) -> StoredObject:
        blob = self.bucket.get_blob(self._blob_name(key))
        if blob is None:
            raise FileNotFoundError(f"no object at {join_url(self.url, key)}")
        return self._stored(blob)

    def unlisted(self, prefix: str = "") -> list[str]:
        """Folder placeholders (as the Cloud Console creates them) with nothing in them."""
        names = [b.name[len(self.prefix):] for b in
                 self.client.list_blobs(self.bucket, prefix=self._blob_name(prefix))]
        return [f"{name} (an empty folder)" for name in names if name.endswith("/")
                and not any(other != name and other.startswith(name) for other in names)]

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.bucket.blob(self._blob_name(key)).download_as_bytes()
        except self._not_found as exc:
            raise FileNotFoundError(f"no object at {join_url(self.url, key)}") from exc
        except self._forbidden as exc:
            raise PermissionError(f"permission denied reading {join_url(self.url, key)} "
                                  f"({exc.message})") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        # One-request upload: the object becomes visible only once it is complete.
        self.bucket.blob(self._blob_name(key)).upload_from_string(data)

    def create_bytes(self, key: str, data: bytes) -> None:
        """Upload only if no object has the name (generation 0), else FileExistsError."""
        try:
            self.bucket.blob(self._blob_name(key)).upload_from_string(data,
                                                                      if_generation_match=0)
        except self._taken as exc:
            raise FileExistsError(f"an object already exists at {join_url(self.url, key)}") \
                from exc

    def move(self, src: str, dst: str) -> None:
        """Copy, then delete the source: GCS has no rename, and this order never loses data.
        The copy asks for generation 0 at the destination, so it never replaces an object."""
        blob = self.bucket.blob(self._blob_name(src))
        try:
            self.bucket.copy_blob(blob, self.bucket, self._blob_name(dst), if_generation_match=0)
        except self._not_found as exc:
            raise FileNotFoundError(f"no object at {join_url(self.url, src)}") from exc
        except self._taken as exc:
            raise FileExistsError(f"an object already exists at {join_url(self.url, dst)}") \
                from exc
        blob.delete()

    def exists(self, key: str) -> bool:
        return self.bucket.blob(self._blob_name(key)).exists()
