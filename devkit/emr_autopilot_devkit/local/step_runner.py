"""Runs an EMR step on this machine, for the local runtime; nothing it cannot run is reported as run.

EMR runs a step's HadoopJarStep on the primary node: command-runner.jar runs its arguments as a
command line, script-runner.jar downloads the script named by its first argument from S3 and runs it
(Management Guide, "Run commands and scripts on an Amazon EMR cluster"). Here a step runs for real
when this machine has what EMR's primary node would use:

- command-runner.jar: the programs in LOCAL_COMMANDS, and `spark-submit` on local PySpark (the
  pyspark package in this Python and Java); s3:// arguments of spark-submit are staged through
  the emulator (see `_run_spark`);
- script-runner.jar: a script that exists in S3.

Every other step FAILS, with FailureDetails naming what is missing (hadoop, hive, hdfs, s3-dist-cp
are not on this machine; a script absent from S3; spark-submit without Java or PySpark) and a
LogFile. Simulation only happens where a job asked for it (`simulate: true` on a step): the product
renders such a step as an `echo` (emr_autopilot.simulation) that EMR runs as well; here it takes
Timings.simulated_step virtual seconds, the time a step takes on a cluster, so tests can hold a step
RUNNING for hours of virtual time.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from emr_autopilot.simulation import is_simulated_args
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.local.emulator_clients import emulator_client

# Programs a command-runner step may run here: they exist, and behave the same, on EMR's primary node.
# Anything else (hadoop, hive, hdfs, s3-dist-cp, pig, ...) is EMR software this machine does not have.
LOCAL_COMMANDS = ("bash", "sh", "python3", "python", "echo", "true", "false")
INSTALL_JAVA = "apt-get install openjdk-17-jre-headless"
# Spark's own log lines (log4j's default layout): never the reason a step failed.
_SPARK_LOG = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (INFO|WARN|DEBUG|TRACE) ")
# spark-submit options whose value is a comma-separated list of files to ship (may be s3://).
_FILE_LIST_OPTIONS = ("--py-files", "--files", "--jars", "--archives")
# The same lists as Spark properties (Spark "Configuration": spark.submit.pyFiles, spark.files, spark.jars,
# spark.archives), as EMR Serverless and EMR on EKS sparkSubmitParameters often give them.
_FILE_LIST_CONFS = ("spark.submit.pyFiles", "spark.files", "spark.jars", "spark.archives")
# Properties that set the driver's environment on a cluster: YARN's application master (cluster mode), EMR
# Serverless's driver, a Kubernetes driver pod. Locally the driver is the spark-submit process itself.
_DRIVER_ENV = ("spark.yarn.appMasterEnv.", "spark.emr-serverless.driverEnv.", "spark.kubernetes.driverEnv.")
_EXECUTOR_ENV = "spark.executorEnv."
_PYTHON_VARIABLES = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")
# spark-submit options that take no value.
_SPARK_FLAGS = ("--verbose", "--supervise", "-v")


class Timing(Protocol):
    simulated_step: float
    step_timeout_real: float


@dataclass
class StepRun:
    state: str
    stdout: str
    stderr: str
    controller: str
    simulated: bool
    failure: dict[str, str] | None = None


@dataclass(frozen=True)
class SparkToolchain:
    """What local spark-submit needs; `missing` says what is not there (empty when it can run)."""

    spark_home: Path | None
    java: str | None

    @property
    def missing(self) -> str:
        if self.spark_home is None:
            return (
                "the pyspark package is not installed in this Python "
                "(`make venv` installs it from requirements-dev.lock)"
            )
        if self.java is None:
            return f"Java is not installed (spark-submit needs a Java runtime; e.g. `{INSTALL_JAVA}`)"
        return ""

    @property
    def spark_submit(self) -> str:
        assert self.spark_home is not None
        return str(self.spark_home / "bin" / "spark-submit")


def find_java() -> str | None:
    """The java Spark's launcher would use: $JAVA_HOME/bin/java, else java on PATH (bin/spark-class)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def spark_toolchain() -> SparkToolchain:
    spec = importlib.util.find_spec("pyspark")
    home = Path(spec.origin).parent if spec is not None and spec.origin else None
    if home is not None and not (home / "bin" / "spark-submit").exists():
        home = None
    return SparkToolchain(spark_home=home, java=find_java())


def failure_reason(stderr: str) -> str:
    """The line of stderr that says why: the last one that is not Spark's own INFO/WARN logging."""
    for line in reversed(stderr.splitlines()):
        if line.strip() and not _SPARK_LOG.match(line):
            return line.strip()[:256]
    return "Unknown Error."


class StepRunner:
    """Runs steps for the EMR simulator (one thread per step) and batches for the Livy server."""

    def __init__(self, clock: FastClock, endpoint_url: str, region: str) -> None:
        self.clock = clock
        self.endpoint_url = endpoint_url
        self.region = region
        self.simulated: dict[str, str] = {}  # step id -> why it was simulated
        self.processes: dict[str, subprocess.Popen[str]] = {}  # step id -> its real process (its group leader)
        self._worker = threading.local()

    @classmethod
    def from_environment(cls, clock: FastClock) -> StepRunner:
        """For a component started without one: the emulator the local runtime put in the environment."""
        return cls(clock, os.environ["AWS_ENDPOINT_URL"], os.environ.get("AWS_REGION", "us-east-1"))

    # -- one step --------------------------------------------------------------------------------
    def run(self, step: Any, timings: Timing, failing_steps: dict[str, str], log_prefix: str) -> StepRun:
        """Run one step to its end; never raises: an error of the runtime itself fails the step."""
        self._worker.step_id = step.id
        try:
            run = self._run_step(step, timings, failing_steps)
        except Exception as exc:
            run = StepRun(
                "FAILED",
                "",
                f"{type(exc).__name__}: {exc}\n",
                "",
                simulated=False,
                failure={"Reason": "Unknown Error.", "Message": str(exc)[:256]},
            )
        if run.failure is not None:
            run.failure.setdefault("LogFile", log_prefix + "stderr.gz")
        return run

    def kill(self, step_id: str) -> None:
        """Stop a step's process and everything it started (spark-submit starts a JVM and Python workers)."""
        process = self.processes.get(step_id)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()

    def _run_step(self, step: Any, timings: Timing, failing_steps: dict[str, str]) -> StepRun:
        args = [str(arg) for arg in step.args]
        jar = str(step.jar)
        if step.name in failing_steps:  # an injected fault: the step fails after a step's time
            message = failing_steps[step.name]
            self.clock.sleep(timings.simulated_step)
            return StepRun(
                "FAILED",
                "",
                f"Injected fault: {message}\n",
                self._controller(jar, args, 1),
                simulated=True,
                failure={"Reason": message, "Message": message},
            )
        if jar == "command-runner.jar" and is_simulated_args(args):
            return self._simulate(step.id, jar, args, timings)
        if jar.endswith("script-runner.jar"):
            if not args:
                return self._cannot_run(
                    jar, args, "script-runner.jar needs the script's s3:// URI as its first argument"
                )
            return self._run_script(args[0], args[1:], jar, timings)
        if jar == "command-runner.jar":
            if not args:
                return self._cannot_run(jar, args, "command-runner.jar was given no command")
            if args[0] == "spark-submit":
                return self._run_spark(args, timings)
            if args[0] in LOCAL_COMMANDS:
                return self._run_process(self._local_argv(args), jar, args, timings)
            return self._cannot_run(
                jar,
                args,
                f"command {args[0]!r} is not available in the local runtime (it runs {', '.join(LOCAL_COMMANDS)} "
                "and spark-submit); mark the step `simulate: true` to try the rest of the pipeline without it",
                java_error=f'Cannot run program "{args[0]}": error=2, No such file or directory',
            )
        return self._cannot_run(
            jar, args, f"the local runtime runs command-runner.jar and script-runner.jar steps, not {jar}"
        )

    def _simulate(self, step_id: str, jar: str, args: list[str], timings: Timing) -> StepRun:
        """A step the job marked `simulate: true`: what its echo prints, after a step's time."""
        self.simulated[step_id] = "simulate: true in the job"
        self.clock.sleep(timings.simulated_step)
        printed = " ".join(args[1:]) + "\n"
        return StepRun("COMPLETED", printed, "", self._controller(jar, args, 0), simulated=True)

    def _cannot_run(self, jar: str, args: list[str], why: str, java_error: str | None = None) -> StepRun:
        # inferred: command-runner.jar starts the command with Java's ProcessBuilder, whose error for a
        # missing program is "Cannot run program ...: error=2"; the step then fails at once.
        lines = [f'Exception in thread "main" java.io.IOException: {java_error}'] if java_error else []
        lines.append(f"[local runtime] step not run: {why}")
        return StepRun(
            "FAILED",
            "",
            "\n".join(lines) + "\n",
            self._controller(jar, args, 1),
            simulated=False,
            failure={"Reason": why[:256], "Message": f"Step not run by the local runtime: {why}"[:256]},
        )

    # -- script-runner.jar -----------------------------------------------------------------------
    def _run_script(self, script_uri: str, script_args: list[str], jar: str, timings: Timing) -> StepRun:
        if not script_uri.startswith("s3://"):
            # inferred: script-runner.jar also takes a path on the primary node; none exists here.
            return self._cannot_run(jar, [script_uri, *script_args], f"script {script_uri} is not an s3:// URI")
        with tempfile.TemporaryDirectory(prefix="emr-step-") as workdir:
            local = Path(workdir) / (Path(script_uri).name or "script")
            bucket, _, key = script_uri.removeprefix("s3://").partition("/")
            try:
                self._s3().download_file(bucket, key, str(local))
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                what = "does not exist" if code in ("404", "NoSuchKey", "NoSuchBucket") else f"cannot be read ({code})"
                return self._cannot_run(jar, [script_uri, *script_args], f"script {script_uri} {what} in S3")
            local.chmod(0o755)
            if local.suffix == ".py":
                argv = [sys.executable, str(local), *script_args]
            elif local.suffix == ".sh" or not local.read_bytes().startswith(b"#!"):
                argv = ["bash", str(local), *script_args]
            else:
                argv = [str(local), *script_args]
            return self._run_process(argv, jar, [script_uri, *script_args], timings, cwd=workdir)

    # -- spark-submit ------------------------------------------------------------------------------
    def _run_spark(self, args: list[str], timings: Timing) -> StepRun:
        """spark-submit on local PySpark (master local[2]). Spark here has no S3 filesystem (hadoop-aws is
        not in pyspark), so s3:// *arguments* are staged through the emulator: objects that exist (the
        application, --py-files, inputs) are downloaded first; an s3:// argument with nothing under it is
        an output, written locally and uploaded when the application succeeds. An s3:// path the
        application builds itself (not an argument) is not staged: Spark fails it with
        'No FileSystem for scheme "s3"', and the step fails with that reason."""
        jar = "command-runner.jar"
        toolchain = spark_toolchain()
        if toolchain.missing:
            return self._cannot_run(jar, args, f"spark-submit cannot run here: {toolchain.missing}")
        s3 = self._s3()
        with tempfile.TemporaryDirectory(prefix="emr-spark-") as workdir:
            stage = _Staging(s3, Path(workdir))
            try:
                argv = list(self._spark_argv(args[1:], stage))
            except _NotInS3 as exc:
                return self._cannot_run(jar, args, str(exc))
            run = self._run_process(
                [toolchain.spark_submit, *argv],
                jar,
                args,
                timings,
                cwd=workdir,
                extra_env={
                    "SPARK_HOME": str(toolchain.spark_home),
                    # This Python, unless the job names its own (a packaged job's ./environment/bin/python).
                    **stage.python_env(sys.executable),
                    "SPARK_LOCAL_IP": "127.0.0.1",
                    **({"JAVA_HOME": str(Path(toolchain.java).resolve().parent.parent)} if toolchain.java else {}),
                },
                rename=stage.local_to_uri,
            )
            if run.state == "COMPLETED":
                stage.upload_outputs()
            return run

    def _spark_argv(self, args: list[str], stage: _Staging) -> Iterator[str]:
        # inferred: on a cluster, --master yarn and --deploy-mode cluster/client; locally one JVM runs it all.
        yield from ("--master", "local[2]", "--conf", "spark.ui.enabled=false")
        # Fewer shuffle partitions than the cluster default (200): the same result, seconds sooner on 2 cores.
        yield from ("--conf", "spark.sql.shuffle.partitions=4")
        # A short-lived JVM starts about twice as fast with the C1 compiler only and the serial collector
        # (measured on 2 cores: 16 s instead of 29-43 s for the sample job); the job's own options come later
        # on the command line and win.
        yield from ("--driver-java-options", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        options = iter(args)
        for arg in options:
            if arg in ("--deploy-mode", "--master"):
                next(options, None)
                continue
            if arg.startswith(("--deploy-mode=", "--master=")):
                continue
            if arg in _SPARK_FLAGS:
                yield arg
                continue
            if arg.startswith("-"):
                value = next(options, "")
                if arg == "--archives":
                    value = ",".join(stage.archive(item) for item in value.split(","))
                elif arg in _FILE_LIST_OPTIONS:
                    value = stage.file_list(value)
                elif arg == "--conf":
                    value = stage.conf(value)
                yield from (arg, value)
                continue
            yield stage.input(arg)  # the application must exist
            for app_arg in options:
                yield stage.argument(app_arg) if app_arg.startswith("s3://") else app_arg
            return

    # -- a process ---------------------------------------------------------------------------------
    def _local_argv(self, args: list[str]) -> list[str]:
        return [sys.executable, *args[1:]] if args[0] in ("python3", "python") else args

    def _run_process(
        self,
        argv: list[str],
        jar: str,
        args: list[str],
        timings: Timing,
        cwd: str | None = None,
        extra_env: dict[str, str] | None = None,
        rename: dict[str, str] | None = None,
    ) -> StepRun:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        step_id = getattr(self._worker, "step_id", "")
        # A real process takes real time, whatever the clock's speed.
        with self.clock.real_time():
            # Its own process group: a kill or cancel reaches the JVM and Python workers spark-submit starts.
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
            self.processes[step_id] = process  # killed if its cluster terminates meanwhile
            try:
                stdout, stderr = process.communicate(timeout=timings.step_timeout_real)
            except subprocess.TimeoutExpired:
                self.kill(step_id)
                stdout, stderr = process.communicate()
                return StepRun(
                    "FAILED",
                    stdout,
                    stderr + "\nkilled: local step timeout\n",
                    self._controller(jar, args, -9),
                    simulated=False,
                    failure={"Reason": "Step timed out on the local runtime", "Message": "killed after timeout"},
                )
            finally:
                self.processes.pop(step_id, None)
        for local, uri in (rename or {}).items():  # the logs name s3:// URIs, as on EMR, not staging paths
            stdout, stderr = stdout.replace(local, uri), stderr.replace(local, uri)
        controller = self._controller(jar, args, process.returncode)
        if process.returncode == 0:
            return StepRun("COMPLETED", stdout, stderr, controller, simulated=False)
        return StepRun(
            "FAILED",
            stdout,
            stderr,
            controller,
            simulated=False,
            failure={
                "Reason": failure_reason(stderr),
                "Message": f"Command exited with status {process.returncode}",
            },
        )

    def _controller(self, jar: str, args: list[str], code: int) -> str:
        stamp = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return (
            f"{stamp} INFO startExec '{jar} {shlex.join(args)}'\n{stamp} INFO Process finished with exit code {code}\n"
        )

    def _s3(self) -> Any:
        return emulator_client("s3", self.endpoint_url, self.region)


class _NotInS3(Exception):
    pass


def _files(local: Path) -> list[Path]:
    # Hadoop's local .crc side files (and other dot-files) do not exist on S3 (EMRFS writes none).
    if local.is_file():
        return [local]
    return sorted(p for p in local.rglob("*") if p.is_file() and not p.name.startswith(".")) if local.exists() else []


def _snapshot(local: Path) -> dict[str, tuple[int, int]]:
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns) for path in _files(local)}


def _unpack(archive: Path, target: Path) -> None:
    """Unpack as YARN localizes an archive: a zip or jar is unzipped, anything else is read as a tar (inferred
    from Hadoop's FileUtil.unTar / unZip use in localization)."""
    if archive.suffix in (".zip", ".jar"):
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(target)
        return
    import tarfile

    with tarfile.open(archive) as opened:
        # "tar", not "data": a packed environment's bin/python is a link to an absolute interpreter path.
        opened.extractall(target, filter="tar")


class _Staging:
    """s3:// URIs of one spark-submit, as local paths: inputs downloaded, outputs uploaded afterwards.

    An argument that existed in S3 and that the application changed (Spark's mode("overwrite") on an
    existing prefix, for one) is written back as the application left it; unchanged ones are not."""

    def __init__(self, s3: Any, workdir: Path) -> None:
        self.s3 = s3
        self.workdir = workdir
        self.local_to_uri: dict[str, str] = {}
        self.outputs: list[tuple[Path, str]] = []
        self.existing: list[tuple[Path, str, dict[str, tuple[int, int]]]] = []
        self.driver_env: dict[str, str] = {}
        self.executor_python: str | None = None

    def _local(self, uri: str) -> Path:
        key = uri.removeprefix("s3://").partition("/")[2]
        local = self.workdir / f"s3-{len(self.local_to_uri)}" / (Path(key).name or "out")
        local.parent.mkdir(parents=True)
        self.local_to_uri[str(local)] = uri
        return local

    def _download(self, uri: str, local: Path) -> bool:
        """Download the object, or every object under the prefix; False when there is nothing there."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                return False
            raise
        if any(obj["Key"] == key for obj in listing):
            self.s3.download_file(bucket, key, str(local))
            return True
        folder = key if key.endswith("/") or not key else key + "/"
        inside = [obj for obj in listing if obj["Key"].startswith(folder)]
        if not inside:
            return False
        local.mkdir()
        for obj in inside:
            target = local / obj["Key"][len(folder) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            if not obj["Key"].endswith("/"):
                self.s3.download_file(bucket, obj["Key"], str(target))
        return True

    def file_list(self, value: str) -> str:
        return ",".join(self.input(item) if item.startswith("s3://") else item for item in value.split(","))

    def archive(self, item: str) -> str:
        """An archive (--archives, spark.archives) `path#alias`: staged, and unpacked as `alias` in the working
        directory. YARN and Kubernetes unpack each archive in every container's working directory, where the
        driver and the executors' Python find ./alias/...; Spark's local mode unpacks it elsewhere (its SparkFiles
        directory) while its Python workers start in the driver's directory, so the runtime unpacks it there."""
        location, _, alias = item.partition("#")
        local = self.input(location) if location.startswith("s3://") else location
        target = self.workdir / (alias or Path(location).name)
        if not target.exists():
            _unpack(Path(local), target)
        return f"{local}#{alias}" if alias else local

    def conf(self, value: str) -> str:
        """A --conf key=value: file lists staged like the options; the driver's and executors' Python noted."""
        key, sep, setting = value.partition("=")
        key = key.strip()
        if key == "spark.archives":
            return f"{key}={','.join(self.archive(item) for item in setting.split(','))}"
        if key in _FILE_LIST_CONFS:
            return f"{key}={self.file_list(setting)}"
        variable = key.rsplit(".", 1)[-1]
        if sep and variable in _PYTHON_VARIABLES:
            if key.startswith(_DRIVER_ENV):
                self.driver_env[variable] = setting
            elif key.startswith(_EXECUTOR_ENV):
                self.executor_python = setting
        return value

    def python_env(self, default: str) -> dict[str, str]:
        """PYSPARK_PYTHON (local mode's Python workers take the driver's) and PYSPARK_DRIVER_PYTHON for the local
        driver: the job's own settings for the driver's environment, else this Python."""
        driver = self.driver_env.get("PYSPARK_DRIVER_PYTHON") or self.driver_env.get("PYSPARK_PYTHON")
        workers = self.driver_env.get("PYSPARK_PYTHON") or self.executor_python
        return {"PYSPARK_PYTHON": workers or default, "PYSPARK_DRIVER_PYTHON": driver or workers or default}

    def input(self, uri: str) -> str:
        """A file spark-submit itself needs (the application, --py-files): it must exist."""
        if not uri.startswith("s3://"):
            return uri
        local = self._local(uri)
        if not self._download(uri, local):
            raise _NotInS3(f"{uri} does not exist in S3 (spark-submit needs it to start)")
        return str(local)

    def argument(self, uri: str) -> str:
        """An application argument: an input when something is there, else an output."""
        local = self._local(uri)
        if self._download(uri, local):
            self.existing.append((local, uri, _snapshot(local)))
        else:
            self.outputs.append((local, uri))
        return str(local)

    def upload_outputs(self) -> None:
        for local, uri in self.outputs:
            self._upload(local, uri)  # nothing when not written: an input that does not exist, or unused
        for local, uri, before in self.existing:
            if _snapshot(local) != before:
                self._upload(local, uri, replace=True)

    def _upload(self, local: Path, uri: str, replace: bool = False) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        written = set()
        for path in _files(local):
            name = key if path == local else f"{key.rstrip('/')}/{path.relative_to(local).as_posix()}"
            self.s3.upload_file(str(path), bucket, name)
            written.add(name)
        if replace and not local.is_file():  # the prefix now holds what the application left there
            folder = key.rstrip("/") + "/"
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
                for obj in page.get("Contents", []):
                    if obj["Key"] not in written:
                        self.s3.delete_object(Bucket=bucket, Key=obj["Key"])
