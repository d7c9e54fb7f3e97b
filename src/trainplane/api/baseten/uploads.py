"""Where `truss train push` uploads its code: short-lived S3 credentials for this server's own small
S3-compatible upload target (PutObject, and the multipart calls boto3 switches to above 8 MB), one
blob store per tenant under <data dir>/baseten/uploads, and the code unpacked into a job's run dir.

The credentials are issued per request (`GET /v1/blobs/credentials/train`), held in memory for an hour
and checked with the server's SigV4 verifier (scoped to "s3"): an upload acts for the tenant the
credentials were issued to. reference/modelarts_baseten.md §3.1: truss calls
`boto3.resource("s3", **creds)`, so `creds.endpoint_url` points it here.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import tarfile
import threading
import time
import uuid
from pathlib import Path

from trainplane.api.auth.keyring import HmacKey, Keyring
from trainplane.api.auth.port import Principal
from trainplane.credentials.records import CredentialSet, Kind
from trainplane.domain import errors

BUCKET = "trainplane-train"
REGION = "us-east-1"
KEY_LIFETIME_SECONDS = 3600
MAX_UNPACKED_BYTES = 4 * 1024**3
MAX_UNPACKED_MEMBERS = 100_000
_KEY = re.compile(r"[A-Za-z0-9._-]{1,128}(/[A-Za-z0-9._-]{1,128}){0,7}")
_PART = re.compile(r"[0-9]{1,5}")


class UploadKeys(Keyring):
    """A keyring of the upload credentials issued so far (this process only, one hour each)."""

    def __init__(self) -> None:
        super().__init__(CredentialSet())
        self._issued: dict[str, tuple[HmacKey, float]] = {}
        self._lock = threading.Lock()

    def issue(self, tenant: str) -> tuple[str, str]:
        """A new (access key id, secret) acting for `tenant`."""
        key_id = "BTU" + secrets.token_hex(10).upper()
        secret = secrets.token_urlsafe(30)
        now = time.time()
        with self._lock:
            self._issued = {k: v for k, v in self._issued.items() if v[1] > now}  # forget expired ones
            self._issued[key_id] = (HmacKey(secret, Principal(tenant)), now + KEY_LIFETIME_SECONDS)
        return key_id, secret

    def hmac_key(self, kind: Kind, key_id: str) -> HmacKey | None:
        entry = self._issued.get(key_id)
        if kind is not Kind.AWS or entry is None or entry[1] < time.time():
            return None
        return entry[0]


class Blobs:
    """Each tenant's uploads: <root>/<tenant digest>/<bucket>/<key>, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, tenant: str, bucket: str, key: str) -> Path:
        """Raises: errors.NotFound for a bucket or key this store never hands out."""
        if bucket != BUCKET or not _KEY.fullmatch(key) or ".." in key.split("/"):
            raise errors.NotFound("blob", f"{bucket}/{key}"[:100])
        tenant_dir = hashlib.sha256(tenant.encode()).hexdigest()[:24]
        return self.root / tenant_dir / bucket / key

    def put(self, path: Path, content: bytes) -> str:
        """Store `content` at `path`; its ETag (the MD5, as S3's for a single PUT)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        temporary.write_bytes(content)
        os.replace(temporary, path)
        return hashlib.md5(content, usedforsecurity=False).hexdigest()

    def start_multipart(self, path: Path) -> str:
        upload_id = uuid.uuid4().hex
        (path.parent / f".{path.name}.parts" / upload_id).mkdir(parents=True)
        return upload_id

    def _parts_dir(self, path: Path, upload_id: str) -> Path:
        parts = path.parent / f".{path.name}.parts" / upload_id
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id) or not parts.is_dir():
            raise errors.NotFound("upload", upload_id[:64])
        return parts

    def put_part(self, path: Path, upload_id: str, number: str, content: bytes) -> str:
        if not _PART.fullmatch(number) or not 1 <= int(number) <= 10_000:
            raise errors.Invalid("partNumber", "must be from 1 to 10000")
        return self.put(self._parts_dir(path, upload_id) / f"{int(number):05d}", content)

    def complete(self, path: Path, upload_id: str, numbers: list[int]) -> str:
        """Join the listed parts in order into the blob; its ETag. Raises: errors.Invalid (a part missing)."""
        parts = self._parts_dir(path, upload_id)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        digest = hashlib.md5(usedforsecurity=False)
        with temporary.open("wb") as joined:
            for number in numbers:
                part = parts / f"{number:05d}"
                if not part.is_file():
                    temporary.unlink()
                    raise errors.Invalid("Part", f"part {number} was never uploaded")
                content = part.read_bytes()
                digest.update(hashlib.md5(content, usedforsecurity=False).digest())
                joined.write(content)
        os.replace(temporary, path)
        shutil.rmtree(parts, ignore_errors=True)
        return f"{digest.hexdigest()}-{len(numbers)}"

    def abort(self, path: Path, upload_id: str) -> None:
        shutil.rmtree(self._parts_dir(path, upload_id), ignore_errors=True)


def unpack(blob: Path, target: Path, field: str) -> None:
    """Unpack a code tarball into `target` (tarfile's "data" filter: nothing outside it, no devices,
    no links leaving it). Raises: errors.Invalid naming `field` (not a tarball, too large)."""
    try:
        with tarfile.open(blob) as archive:
            members = archive.getmembers()
            total = sum(member.size for member in members)
            if len(members) > MAX_UNPACKED_MEMBERS or total > MAX_UNPACKED_BYTES:
                raise errors.Invalid(field, "the uploaded code is larger than this server unpacks")
            target.mkdir(parents=True, exist_ok=True)
            archive.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise errors.Invalid(field, f"the uploaded code could not be unpacked: {exc}") from exc
