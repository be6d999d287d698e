"""Figure 2, package size: each function's and the layer's `sam build` artifact, zipped and unzipped.

`sam build` runs as `make build` runs it (python3.11 from the venv on PATH, no Docker), into
.bench-cache/sam-build so it does not replace a build in .aws-sam. Zipped sizes use deflate, as
`sam deploy` packages them.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
import zipfile
from collections import Counter
from pathlib import Path

from emr_autopilot_devkit.bench.common import CACHE_DIR, REPO_ROOT, functions, subprocess_env, venv_bin
from emr_autopilot_devkit.bench.report import Figure, human_bytes

SECTION = "2. Package size (sam build artifacts)"
FUNCTION_BUDGET = 1024 * 1024  # 1 MB zipped, the layer excluded
LAYER_ZIPPED_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a directly uploaded zip
UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda's limit for a function and all its layers, unzipped


def sam_build() -> tuple[Path, float]:
    build_dir = CACHE_DIR / "sam-build"
    env = subprocess_env({"SAM_CLI_TELEMETRY": "0", "PATH": f"{venv_bin()}:{subprocess_env()['PATH']}"})
    started = time.monotonic()
    done = subprocess.run(
        [
            str(venv_bin() / "sam"),
            "build",
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(CACHE_DIR / "sam-cache"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return build_dir, time.monotonic() - started


def sizes(root: Path) -> tuple[int, int, int]:
    """(unzipped bytes, zipped bytes, files) of a directory packaged as a deployment zip."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return sum(p.stat().st_size for p in files), len(buffer.getvalue()), len(files)


def _distribution(name: str) -> str:
    """Top-level entry in python/ -> its distribution: 'botocore-1.43.dist-info' and 'botocore' together."""
    base = re.sub(r"-[0-9][^-]*\.(dist-info|data)$", "", name).removesuffix(".py")
    base = {"_yaml": "pyyaml", "yaml": "pyyaml", "dateutil": "python_dateutil", "wrapt-stubs": "wrapt"}.get(
        base.lower(), base.lower()
    )
    return base.replace("-", "_")


def layer_breakdown(python: Path) -> list[dict[str, object]]:
    unzipped: Counter[str] = Counter()
    zipped: Counter[str] = Counter()
    for entry in python.iterdir():
        key = _distribution(entry.name)
        if entry.is_dir():
            size, packed, _ = sizes(entry)
        else:
            size = entry.stat().st_size
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.write(entry, entry.name)
            packed = len(buffer.getvalue())
        unzipped[key] += size
        zipped[key] += packed
    total = sum(unzipped.values()) or 1
    return [
        {
            "package": name,
            "unzipped_bytes": size,
            "zipped_bytes": zipped[name],
            "share_unzipped": round(size / total, 3),
        }
        for name, size in unzipped.most_common()
    ]


def measure() -> list[Figure]:
    build_dir, seconds = sam_build()
    figures: list[Figure] = []
    pyc = 0
    for spec in functions():
        root = build_dir / spec.logical_id
        unzipped, zipped, count = sizes(root)
        pyc += sum(1 for _ in root.rglob("*.pyc"))
        figures.append(
            Figure(
                id=f"package_size.{spec.logical_id}.zipped",
                section=SECTION,
                name=f"{spec.logical_id} zipped (unzipped {human_bytes(unzipped)})",
                value=zipped,
                unit="B",
                budget=FUNCTION_BUDGET,
                note="the function's own artifact; the shared layer is counted once, below",
                detail={"unzipped_bytes": unzipped, "files": count},
            )
        )
    layer = build_dir / "SharedLayer"
    unzipped, zipped, count = sizes(layer)
    layer_pyc = sum(1 for _ in layer.rglob("*.pyc"))
    top = layer_breakdown(layer / "python")
    xray = next((row for row in top if row["package"] == "aws_xray_sdk"), None)
    figures.append(
        Figure(
            id="package_size.SharedLayer.zipped",
            section=SECTION,
            name="SharedLayer zipped",
            value=zipped,
            unit="B",
            budget=LAYER_ZIPPED_LIMIT,
            note="budget: Lambda's 50 MB limit for a directly uploaded zip",
            detail={"files": count, "pyc_files": layer_pyc},
        )
    )
    figures.append(
        Figure(
            id="package_size.SharedLayer.unzipped",
            section=SECTION,
            name="SharedLayer unzipped",
            value=unzipped,
            unit="B",
            budget=UNZIPPED_LIMIT,
            note=(
                "budget: Lambda's 250 MB limit for a function and its layers, unzipped. botocore dominates: "
                "the layer pins boto3/botocore because aws-xray-sdk (powertools[tracer], for the Tracer) "
                "pulls botocore in anyway, and a matched pair must not shadow the runtime's boto3 with a "
                f"mismatched botocore. aws-xray-sdk itself is {human_bytes(float(str(xray['unzipped_bytes'])))}."
                if xray
                else "budget: Lambda's 250 MB limit for a function and its layers, unzipped."
            ),
            detail={
                "top_packages": top,
                "sam_build_seconds": round(seconds, 1),
                "build_dir": str(build_dir.relative_to(REPO_ROOT)),
                "pyc_files_in_artifacts": pyc + layer_pyc,
            },
        )
    )
    for row in top[:TOP_PACKAGES]:
        size = float(str(row["unzipped_bytes"]))
        why = WHY.get(str(row["package"]), "")
        figures.append(
            Figure(
                id=f"package_size.SharedLayer.package.{row['package']}",
                section=SECTION,
                name=f"  layer: {row['package']} ({float(str(row['share_unzipped'])):.0%} of the layer){why}",
                value=size,
                unit="B",
                note="unzipped; informational",
                detail=dict(row),
            )
        )
    return figures


TOP_PACKAGES = 6
WHY = {
    "botocore": ", pinned because aws-xray-sdk (the Tracer) pulls it in",
    "aws_xray_sdk": ", the Tracer's X-Ray SDK",
}
