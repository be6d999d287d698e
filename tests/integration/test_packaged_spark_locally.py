"""A packaged job's spark-submit on local Spark (the local runtime's step runner): the driver and the executors run
the packed environment's Python, with the project's zip and the environment's packages, and nothing of this
machine's own site-packages, so a module the package lacks is missing locally as it would be on EMR.

One JVM start (tens of seconds); no network: pip reads a wheelhouse the test writes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from emr_autopilot_devkit.local import step_runner
from emr_autopilot_devkit.local.clock import FastClock
from emr_autopilot_devkit.packaging import build_environment, host_target
from tests.helpers.wheels import wheel

NO_SPARK = step_runner.spark_toolchain().missing
needs_spark = pytest.mark.skipif(bool(NO_SPARK), reason=f"local Spark cannot run here: {NO_SPARK}")

APP = """
import json, sys
from pyspark.sql import SparkSession
import shout  # the project's own module, from the --py-files zip

def probe(_):
    import importlib, sys
    import shout
    found = {}
    for name in ("purefixture", "yaml"):  # in the environment; in this machine's venv only
        try:
            importlib.import_module(name)
            found[name] = "present"
        except ModuleNotFoundError:
            found[name] = "missing"
    return json.dumps({"executor_prefix": sys.prefix, "shout": shout.loud("ok"), **found})

spark = SparkSession.builder.getOrCreate()
result = spark.sparkContext.parallelize([0], 1).map(probe).collect()[0]
with open(sys.argv[1], "w") as out:
    out.write(json.dumps({"driver_prefix": sys.prefix, **json.loads(result)}))
spark.stop()
"""


class Timing:
    simulated_step = 1.0
    step_timeout_real = 240.0


@needs_spark
def test_a_packaged_step_runs_on_its_environment_and_zip_and_not_this_machines_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a project (an entry point and a module of its own, zipped) and an environment for this machine with
    # one package from a local wheelhouse; PyYAML is in this machine's venv, not in the environment
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "purefixture", "py3-none-any")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    environment = tmp_path / "environment.tar.gz"
    build_environment("probe", ["purefixture==1.0"], host_target(), environment)
    modules = tmp_path / "project.zip"
    with zipfile.ZipFile(modules, "w") as archive:
        archive.writestr("shout.py", "def loud(text):\n    return text.upper() + '!'\n")
    app = tmp_path / "app.py"
    app.write_text(APP, encoding="utf-8")
    result = tmp_path / "result.json"
    python = "./environment/bin/python"
    args = ["spark-submit", "--deploy-mode", "cluster", "--py-files", str(modules)]
    args += ["--archives", f"{environment}#environment"]
    args += ["--conf", f"spark.yarn.appMasterEnv.PYSPARK_PYTHON={python}"]
    args += ["--conf", f"spark.executorEnv.PYSPARK_PYTHON={python}", str(app), str(result)]
    runner = step_runner.StepRunner(FastClock(), "http://127.0.0.1:1", "us-east-1")

    # When the step runs as an EMR step would (command-runner.jar spark-submit ...)
    step = SimpleNamespace(id="s-1", name="probe", jar="command-runner.jar", args=args)
    run = runner.run(step, Timing(), {}, "s3://logs/s-1/")

    # Then it completed, the driver and the executors ran the unpacked environment's Python
    assert run.state == "COMPLETED", run.stderr[-2000:]
    found = json.loads(result.read_text(encoding="utf-8"))
    assert found["driver_prefix"].endswith("/environment") and found["executor_prefix"].endswith("/environment")
    # And they imported the project's module and the environment's package, but not this machine's PyYAML
    assert found["shout"] == "OK!"
    assert found["purefixture"] == "present"
    assert found["yaml"] == "missing"
