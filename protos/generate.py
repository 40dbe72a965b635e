"""Generate the Python modules of the Almanac contract (``make protos``).

Runs ``grpc_tools.protoc`` (the protoc and gRPC plugin bundled with grpcio-tools)
plus mypy-protobuf's ``protoc-gen-mypy`` / ``protoc-gen-mypy_grpc`` over every
``protos/almanac/v1/*.proto``, in sorted order:

    python -m grpc_tools.protoc -I protos -I protos/third_party \
        --python_out=OUT --mypy_out=OUT --grpc_python_out=OUT --mypy_grpc_out=OUT \
        protos/almanac/v1/*.proto

Only the ``almanac/v1`` files are generated. The vendored ``protos/third_party``
protos (google/api, google/type) are import roots only: their Python modules come
from googleapis-common-protos at run time.

The output is produced in a scratch directory first and then synced into
``--out``: changed files are rewritten, unchanged files are left alone, and
generated files whose ``.proto`` no longer exists are deleted. Running it twice
gives identical bytes.

Usage: python protos/generate.py [--out DIR]   (DIR defaults to ``protos``)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "protos"
THIRD_PARTY = PROTO_ROOT / "third_party"
PACKAGE_DIR = Path("almanac") / "v1"  # relative to PROTO_ROOT and to the output root

# Every file protoc and the plugins write for one ``foo.proto``.
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def proto_files() -> list[Path]:
    """The contract's .proto files, sorted, relative to the repo root."""
    return sorted(p.relative_to(REPO) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))


def is_generated(name: str) -> bool:
    return name.endswith(GENERATED_SUFFIXES)


def generated_files(root: Path) -> dict[str, bytes]:
    """Generated files found in ``root/almanac/v1``, by file name."""
    folder = root / PACKAGE_DIR
    if not folder.is_dir():
        return {}
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and is_generated(p.name)
    }


def _plugin(name: str) -> str:
    """Path of a protoc plugin script installed next to this interpreter."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(
            f"{name} not found next to {sys.executable} or on PATH; "
            "install the dev extras: pip install -e '.[dev]'"
        )
    return found


def protoc_command(out: Path, files: list[Path]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        str(PROTO_ROOT.relative_to(REPO)),
        "-I",
        str(THIRD_PARTY.relative_to(REPO)),
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--mypy_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_grpc_out={out}",
        *(str(f) for f in files),
    ]


def generate_into(scratch: Path) -> dict[str, bytes]:
    """Run protoc into an empty directory; return the generated files by name."""
    files = proto_files()
    if not files:
        return {}
    result = subprocess.run(
        protoc_command(scratch, files), cwd=REPO, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"protoc failed with exit code {result.returncode}")
    produced = {
        p.relative_to(scratch).as_posix()
        for p in scratch.rglob("*")
        if p.is_file() and p.relative_to(scratch).parts[:2] != PACKAGE_DIR.parts
    }
    if produced:
        raise SystemExit(f"protoc wrote files outside {PACKAGE_DIR}: {sorted(produced)}")
    return generated_files(scratch)


def sync(out: Path, fresh: dict[str, bytes]) -> list[str]:
    """Make ``out/almanac/v1`` hold exactly ``fresh``; return a change log."""
    folder = out / PACKAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    changes: list[str] = []
    current = generated_files(out)
    for name in sorted(current.keys() - fresh.keys()):
        (folder / name).unlink()
        changes.append(f"removed {folder / name}")
    for name, data in sorted(fresh.items()):
        if current.get(name) != data:
            target = folder / name
            tmp = target.with_name(f".{name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
            changes.append(f"wrote {target}")
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=PROTO_ROOT, help="output root (default: protos)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="almanac-protos-") as tmp:
        fresh = generate_into(Path(tmp))
    changes = sync(out, fresh)
    if not args.quiet:
        for line in changes:
            print(line)
        print(
            f"{len(proto_files())} proto file(s) -> {len(fresh)} generated file(s) in "
            f"{out / PACKAGE_DIR} ({len(changes)} changed)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
