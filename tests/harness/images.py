"""The images the test node runs: its sandbox ("pause") image and the project's own.

Nothing can be pulled here, so both come from local files. The project's image is built
from the Dockerfile by `make image` (tests/toolchain/image.sh), which records where its OCI
archive is. The pause image is one static binary compiled from pause.c, packed here into
an OCI archive by hand: a single-layer image is three small JSON documents and a tarball,
which is simpler and faster than a second image build.
"""

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tests.harness.tools import VENV_BIN

PAUSE_IMAGE = "localhost/pause:3.10"
_PAUSE_SOURCE = Path(__file__).with_name("pause.c")


def project_image() -> tuple[str, Path]:
    """The reference and OCI archive of the image `make image` built from this checkout."""
    record = VENV_BIN.parent / "fullon-ohlcv-image.json"
    if not record.exists():
        raise FileNotFoundError(
            f"no built image recorded in {record}: run `make image` (make test does it first)"
        )
    built = json.loads(record.read_text())
    return str(built["image"]), Path(built["archive"])


def _blob(layout: tarfile.TarFile, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    layout.addfile(info, io.BytesIO(data))
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layer(binary: bytes) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as layer:
        info = tarfile.TarInfo("pause")
        info.size, info.mode = len(binary), 0o755
        layer.addfile(info, io.BytesIO(binary))
    return raw.getvalue()


def pause_archive(*, directory: Path) -> Path:
    """Compile pause.c statically and write it as a one-layer OCI archive; return its path."""
    binary_path = directory / "pause"
    subprocess.run(
        ["gcc", "-static", "-O2", "-o", str(binary_path), str(_PAUSE_SOURCE)],
        check=True,
        capture_output=True,
    )
    layer_tar = _layer(binary_path.read_bytes())
    archive = directory / "pause.oci.tar"
    with tarfile.open(archive, mode="w") as layout:
        compressed = gzip.compress(layer_tar, mtime=0)
        layer = _blob(layout, compressed)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/pause"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"],
            },
        }
        config_blob = _blob(layout, json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_blob},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
        }
        manifest_blob = _blob(layout, json.dumps(manifest).encode())
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    **manifest_blob,
                    "annotations": {
                        "io.containerd.image.name": PAUSE_IMAGE,
                        "org.opencontainers.image.ref.name": PAUSE_IMAGE.rpartition(":")[2],
                    },
                }
            ],
        }
        for name, document in (
            ("oci-layout", {"imageLayoutVersion": "1.0.0"}),
            ("index.json", index),
        ):
            data = json.dumps(document).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            layout.addfile(info, io.BytesIO(data))
    return archive
