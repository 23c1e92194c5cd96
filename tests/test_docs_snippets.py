"""Every code block in README.md and docs/ that claims to run, runs (issue 15, finding 6).

The rule (documented in docs/index.md, "Code blocks in these pages"):

* a fenced block tagged ``python``, ``sh`` or ``bash`` claims to run; a block with another tag
  (``text``, ``json``, none) shows output or a format and is not run;
* a block whose nearest non-blank line before the fence is ``<!-- illustration: REASON -->`` is an
  illustration only (it needs the network, hours of downloads, or a file of your own); the reason
  must be given;
* the README's ``<!-- main-command -->`` and ``<!-- test-command -->`` blocks create virtual
  environments: ``.ci/run`` runs the test command itself, so they are not run here.

Each page's blocks run in order, in a fresh directory that holds what ``ipevidence demo`` wrote
(``ipevidence-demo/``: the ground truth, the report), as a reader who ran the demo first would have:
the page's Python blocks in one interpreter sharing one namespace (a later block may use what an
earlier one defined, as in a notebook), shell blocks with ``bash -e`` and the ``ipevidence``
command of this environment on the PATH, each at its place in the page. No network is needed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ipevidence.demo import DemoConfig, run_demo

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_TAGS = {"python": "python", "py": "python", "sh": "sh", "bash": "sh", "shell": "sh"}
SKIP_MARKERS = ("<!-- main-command -->", "<!-- test-command -->")
ILLUSTRATION = re.compile(r"^<!--\s*illustration:\s*(\S.*?)\s*-->$")
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")


def blocks(page: Path) -> list[tuple[int, str, str | None, str]]:
    """(line, kind, illustration reason or None, code) for every block tagged to run."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, tag = m.group(1), m.group(2).lower()
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        code = "\n".join(lines[start + 1 : j]) + "\n"
        i = j + 1
        if tag not in RUN_TAGS:
            continue
        before = next((lines[k].strip() for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        if before in SKIP_MARKERS:
            continue
        ill = ILLUSTRATION.match(before)
        out.append((start + 1, RUN_TAGS[tag], ill.group(1) if ill else None, code))
    return out


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("after-demo")
    run_demo(DemoConfig(output_dir=base / "ipevidence-demo"))
    shutil.rmtree(base / "ipevidence-demo" / "archive", ignore_errors=True)  # not needed by any page
    return base / "ipevidence-demo"


def test_the_rule_finds_the_readme_snippets() -> None:
    found = blocks(ROOT / "README.md")
    kinds = [k for _line, k, reason, _code in found if reason is None]
    assert "python" in kinds
    assert "sh" in kinds
    # the two install commands are never among the blocks run here
    assert not any("pip install" in code for *_x, reason, code in found if reason is None)


def run_page(page: Path, demo_dir: Path, tmp_path: Path) -> tuple[int, str, str, int]:
    """Run the page's runnable blocks in a fresh folder holding the demo's output: (exit code,
    stdout, stderr, number of blocks run)."""
    runnable = [(line, kind, code) for line, kind, reason, code in blocks(page) if reason is None]
    if not runnable:
        return 0, "", "", 0
    work = tmp_path / "fresh"
    work.mkdir(parents=True)
    shutil.copytree(demo_dir, work / "ipevidence-demo")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MPLBACKEND": "Agg",
        "IPEVIDENCE_CACHE": str(tmp_path / "cache"),
        "LANG": "C.UTF-8",
    }
    plan = work / "_blocks.json"
    plan.write_text(
        json.dumps([{"line": ln, "kind": k, "code": c} for ln, k, c in runnable]), encoding="utf-8"
    )
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(plan)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout, proc.stderr, len(runnable)


@pytest.fixture(scope="module")
def page_runs(
    demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, tuple[int, str, str, int]]:
    """Every page run at once, three at a time (most blocks wait on one core or on files), so the
    slowest pages set the wall time rather than their sum."""
    base = tmp_path_factory.mktemp("pages")
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            page: pool.submit(run_page, page, demo_dir, base / f"p{i}") for i, page in enumerate(PAGES)
        }
        return {page: fut.result() for page, fut in futures.items()}


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_page_code_blocks_run(page: Path, page_runs: dict[Path, tuple[int, str, str, int]]) -> None:
    for line, _kind, reason, _code in blocks(page):
        if reason is not None:
            assert len(reason) >= 10, f"{page.name}:{line}: an illustration marker must say why"
    code, stdout, stderr, n = page_runs[page]
    assert code == 0, (
        f"{page.relative_to(ROOT)}: a block failed (mark it <!-- illustration: why --> if it is not "
        f"meant to run)\nstdout: {stdout[-2000:]}\nstderr: {stderr[-4000:]}"
    )
    assert stdout.count("\n--- block ok\n") == n, stdout[-2000:]


#: runs a page's blocks in order in ONE interpreter: Python blocks share one namespace (a later block
#: uses the names an earlier one defined, as in a notebook or doctest session); shell blocks run
#: with bash -e at their place in the page
RUNNER = """
import json, subprocess, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for b in blocks:
    try:
        if b["kind"] == "python":
            exec(compile(b["code"], f"<block at line {b['line']}>", "exec"), namespace)
        else:
            sys.stdout.flush()
            subprocess.run(["bash", "-e", "-o", "pipefail", "-c", b["code"]], check=True)
    except BaseException:
        print(f"BLOCK AT LINE {b['line']} ({b['kind']}) FAILED:", file=sys.stderr)
        print(b["code"], file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    sys.stdout.flush()
    print("\\n--- block ok", flush=True)
"""


IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)", re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_page_images_exist_and_are_small(page: Path) -> None:
    """Every image a page shows is in the repository, a PNG, and small (docs/report.md shows a
    printed page of the demo report)."""
    for target in IMAGE.findall(page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        image = (page.parent / target).resolve()
        assert image.is_file(), f"{page.name}: {target} does not exist"
        data = image.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), target
        assert len(data) < 300_000, f"{target}: {len(data):,} bytes; keep committed images small"


def test_report_page_image_is_shown() -> None:
    assert (
        "report-page-verdict.png"
        in IMAGE.findall((ROOT / "docs" / "report.md").read_text(encoding="utf-8"))[0]
    )
