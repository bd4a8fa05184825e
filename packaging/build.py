"""Build the iiq-kiosk bundle with PyInstaller, then smoke-test it.

    python packaging/build.py [--onefile] [--skip-smoke]

Run it with the project's interpreter (the one with `pip install -e ".[build]"`). It runs
PyInstaller with packaging/iiq-kiosk.spec (work folders under packaging/build/, output under
packaging/dist/: the folder packaging/dist/iiq-kiosk/ or the file
packaging/dist/onefile/iiq-kiosk[.exe]), prints the build time and the bundle's size, then
starts the built program and the source tree (`python -m kiosk`) the same way and compares:

- `--demo --smoke` when the kiosk has it (`python -m kiosk --help` mentions `--smoke`): a
  check-out and a check-in through the window, exit 0 and "smoke: passed";
- otherwise `--demo --windowed` with IIQ_KIOSK_EXIT_WHEN_READY=1: exit 0 once it is ready.

Both runs get QT_QPA_PLATFORM=offscreen (unless set) and a fresh IIQ_KIOSK_DATA folder, and
60 s. Exits 1 when the build fails, a smoke run fails, or a one-folder bundle is over
150 MB. Works on Windows and Linux alike (the Windows build is windowed: its smoke run is
judged by the exit code alone, since a GUI-subsystem program may have no stdout).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "iiq-kiosk.spec"
BUILD = HERE / "build"
DIST = HERE / "dist"
NAME = "iiq-kiosk"
WINDOWS = sys.platform == "win32"
EXE = f"{NAME}.exe" if WINDOWS else NAME
MAX_ONEDIR_MB = 150.0
RUN_TIMEOUT_S = 60.0
EXIT_WHEN_READY = "IIQ_KIOSK_EXIT_WHEN_READY"
#: Files a bundle must contain (relative to its _internal folder / sys._MEIPASS).
REQUIRED = (
    "resources/style.qss",
    "resources/icons/app.svg",
    "resources/icons/success.svg",
    "resources/sounds/success.wav",
)


@dataclass
class Run:
    label: str
    code: int | None  # None: timed out
    seconds: float
    output: str


def log(message: str) -> None:
    print(f"build.py: {message}", flush=True)


def mb(size: int) -> float:
    return size / (1024 * 1024)


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(onefile: bool) -> Path:
    """Run PyInstaller; return the executable it made. Raises CalledProcessError on failure."""
    variant = "onefile" if onefile else "onedir"
    workpath = BUILD / variant
    distpath = DIST / "onefile" if onefile else DIST
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--workpath",
        str(workpath),
        "--distpath",
        str(distpath),
        str(SPEC),
    ]
    if onefile:
        command += ["--", "--onefile"]
    log("running " + subprocess.list2cmdline(command))
    subprocess.run(command, check=True, cwd=ROOT)  # noqa: S603  (our own interpreter)
    return distpath / EXE if onefile else distpath / NAME / EXE


def check_contents(bundle_dir: Path) -> list[str]:
    """What a one-folder bundle lacks of the files the kiosk needs at run time."""
    internal = bundle_dir / "_internal"
    base = internal if internal.is_dir() else bundle_dir
    missing = [name for name in REQUIRED if not (base / name).is_file()]
    plugins = list(base.rglob("plugins/iconengines/*qsvgicon*")) + list(
        base.rglob("plugins/imageformats/*qsvg*")
    )
    if len(plugins) < 2:
        missing.append("Qt SVG plugins (iconengines/qsvgicon, imageformats/qsvg)")
    return missing


def source_has_smoke() -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        env=run_env(None),
    )
    return "--smoke" in result.stdout


def run_env(data_dir: Path | None, *, exit_when_ready: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")  # the offscreen plugin ships everywhere
    env.pop(EXIT_WHEN_READY, None)
    if exit_when_ready:
        env[EXIT_WHEN_READY] = "1"
    if data_dir is not None:
        env["IIQ_KIOSK_DATA"] = str(data_dir)
    env["PYTHONUTF8"] = "1"
    return env


def timed_run(label: str, command: list[str], *, smoke: bool, cwd: Path | None = None) -> Run:
    """Start `command` and wait for it; the time is from start to exit. The frozen program
    runs in the empty data folder, so it cannot find resources/ in the working folder."""
    with tempfile.TemporaryDirectory(prefix="iiq-kiosk-build-", ignore_cleanup_errors=True) as tmp:
        env = run_env(Path(tmp), exit_when_ready=not smoke)
        start = time.perf_counter()
        try:
            result = subprocess.run(  # noqa: S603
                command,
                cwd=cwd or tmp,
                env=env,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=RUN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"") + (exc.stderr or b"")
            text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
            return Run(label, None, time.perf_counter() - start, text)
        seconds = time.perf_counter() - start
    return Run(label, result.returncode, seconds, result.stdout + result.stderr)


def judge(run: Run, *, smoke: bool, prints: bool) -> bool:
    """`prints`: the program has a stdout to read (not the windowed .exe on Windows)."""
    if run.code is None:
        log(f"{run.label}: FAILED: still running after {RUN_TIMEOUT_S:.0f} s")
        ok = False
    elif run.code != 0:
        log(f"{run.label}: FAILED: exit code {run.code}")
        ok = False
    elif smoke and prints and "smoke: passed" not in run.output:
        log(f"{run.label}: FAILED: exit 0 but no 'smoke: passed' in its output")
        ok = False
    else:
        ok = True
    if not ok:
        print(run.output[-4000:], flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onefile", action="store_true", help="one self-unpacking executable")
    parser.add_argument("--skip-smoke", action="store_true", help="build only")
    args = parser.parse_args(argv)

    if shutil.which("strip") is None and not WINDOWS:
        log("warning: no `strip` on PATH; the Linux bundle will not be stripped")
    started = time.perf_counter()
    try:
        exe = build(args.onefile)
    except subprocess.CalledProcessError as exc:
        log(f"FAILED: PyInstaller exited {exc.returncode}")
        return 1
    build_s = time.perf_counter() - started
    if not exe.is_file():
        log(f"FAILED: PyInstaller finished but {exe} is missing")
        return 1
    bundle = exe if args.onefile else exe.parent
    size_mb = mb(tree_size(bundle))
    kind = "one-file" if args.onefile else "one-folder"
    log(f"built {kind} bundle {bundle} in {build_s:.1f} s: {size_mb:.1f} MB")

    failed = False
    if not args.onefile:
        missing = check_contents(bundle)
        if missing:
            log("FAILED: the bundle lacks " + ", ".join(missing))
            failed = True
        if size_mb > MAX_ONEDIR_MB:
            log(f"FAILED: {size_mb:.1f} MB is over the {MAX_ONEDIR_MB:.0f} MB limit")
            failed = True
    if args.skip_smoke:
        return 1 if failed else 0

    smoke = source_has_smoke()
    arguments = ["--demo", "--smoke"] if smoke else ["--demo", "--windowed"]
    how = " ".join(arguments) + ("" if smoke else f" with {EXIT_WHEN_READY}=1")
    log(
        f"smoke run: {how} (QT_QPA_PLATFORM={run_env(None).get('QT_QPA_PLATFORM', '')}, "
        "fresh IIQ_KIOSK_DATA)"
    )
    # On Windows the one-folder build has a console twin (iiq-kiosk-cli.exe, the same program
    # with stdout): the smoke run uses it, so that its "smoke: passed" can be read too.
    twin = exe.with_name(f"{NAME}-cli.exe")
    runnable = twin if WINDOWS and twin.exists() else exe
    frozen = timed_run(f"frozen {runnable.name}", [str(runnable), *arguments], smoke=smoke)
    frozen_ok = judge(frozen, smoke=smoke, prints=not WINDOWS or runnable == twin)
    source = timed_run(
        "source python -m kiosk", [sys.executable, "-m", "kiosk", *arguments], smoke=smoke, cwd=ROOT
    )
    source_ok = judge(source, smoke=smoke, prints=True)
    log(f"frozen: {'ok' if frozen_ok else 'FAILED'}, start to exit {frozen.seconds:.2f} s")
    log(f"source: {'ok' if source_ok else 'FAILED'}, start to exit {source.seconds:.2f} s")
    if source.seconds > 0:
        log(f"frozen / source: {frozen.seconds / source.seconds:.2f}")
    if smoke and frozen_ok:
        lines = [line for line in frozen.output.splitlines() if line.startswith("smoke:")]
        if lines:
            log("frozen said: " + lines[-1])
    if not frozen_ok:
        failed = True
    if not source_ok:
        log("note: the source run failed too: the problem is in the kiosk, not the bundle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
