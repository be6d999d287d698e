"""The EMR on EKS part of a job definition (compute: emr-eks): its virtual cluster, execution role, release, logs,
retries and concurrency, and which job fields an emr-eks job refuses.

The job model (emr_autopilot.jobs) holds an EksSpec in `eks:` (loaded lazily, as `serverless:` is) and calls
check_eks_target; this module does not import it, so the check reads the job by attribute. The logs section, the
tag rules and the step checks are EMR Serverless's (emr_autopilot.serverless_jobs), imported, not copied:
StartJobRun's MonitoringConfiguration takes the same S3 URI, log group and stream prefix.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, Self

from pydantic import Field, model_validator

from emr_autopilot.job_fields import PropertyValue, Templated, _FieldError, _Model
from emr_autopilot.serverless_jobs import ServerlessLogs, Tags, check_job_run_step

COMPUTE = "emr-eks"

# EMR on EKS release labels carry a suffix: emr-6.15.0-latest, emr-6.15.0-20240105, emr-6.11.0-java17-latest
# (EMR on EKS Development Guide, "Amazon EMR on EKS releases"; the java17 form is inferred from its release pages).
# moto 5.2.5 accepts emr-X.Y.0-latest or -YYYYMMDD only (facts §3), which the sample job uses.
_RELEASE = r"^emr-\d+\.\d+\.\d+(-java\d+)?-(latest|\d{8})$"
# botocore emr-containers model: ResourceIdString [0-9a-z]+, 1 to 64; IAMRoleArn.
_ID = r"^[0-9a-z]{1,64}$"
_ROLE = r"^arn:aws[a-zA-Z0-9-]*:iam::\d{12}:role/[\w+=,.@/-]+$"


class EksSpec(_Model):
    """Where and how an emr-eks job's runs happen."""

    virtual_cluster_id: str = Field(pattern=_ID, description="The EMR on EKS virtual cluster the job runs on.")
    execution_role: str | None = Field(default=None, pattern=_ROLE, max_length=2048)
    release_label: str | None = Field(default=None, pattern=_RELEASE)
    job_template_id: str | None = Field(default=None, pattern=_ID)
    job_template_parameters: dict[str, Templated] = Field(default_factory=dict, max_length=100)
    logs: ServerlessLogs = Field(default_factory=ServerlessLogs)
    persistent_app_ui: bool | None = None
    # StartJobRun retryPolicyConfiguration.maxAttempts (API reference, RetryPolicyConfiguration: an Integer, no
    # documented maximum); no retry policy when unset.
    retry_max_attempts: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=1, ge=1, le=256)
    spark_properties: dict[str, PropertyValue] = Field(default_factory=dict, max_length=100)
    tags: Tags = Field(default_factory=dict)

    @model_validator(mode="after")
    def _role_and_release(self) -> Self:
        # Without a job template, StartJobRun needs both (EMR on EKS API reference, StartJobRun: "executionRoleArn"
        # and "releaseLabel" are required unless a job template provides them).
        if self.job_template_id is None:
            for field, example in (
                ("execution_role", "execution_role: arn:aws:iam::123456789012:role/emr-autopilot-eks-jobs"),
                ("release_label", "release_label: emr-7.5.0-latest"),
            ):
                if getattr(self, field) is None:
                    raise _FieldError(
                        field,
                        f"missing: an emr-eks job without job_template_id needs {field}. Allowed: {field}, or a "
                        f"job_template_id whose template sets it; e.g. {example}",
                    )
        # EMR on EKS Development Guide, "Using job retry policies": "In Amazon EMR on EKS versions 6.9.0 and later".
        if self.retry_max_attempts is not None and self.release_label and _release(self.release_label) < (6, 9):
            raise _FieldError(
                "retry_max_attempts",
                f"read {self.retry_max_attempts} with {self.release_label}: job retry policies need EMR on EKS 6.9.0 "
                "or later. Allowed: no retry_max_attempts, or release_label emr-6.9.0-latest or later",
            )
        if self.job_template_parameters and self.job_template_id is None:
            raise _FieldError(
                "job_template_parameters",
                "read job_template_parameters without job_template_id: they fill a job template's parameters. "
                "Allowed: a job_template_id too, or no job_template_parameters",
            )
        return self


def _release(label: str) -> tuple[int, ...]:
    return tuple(int(part) for part in label.removeprefix("emr-").split("-")[0].split("."))


if TYPE_CHECKING:  # for the type checker only: defining Protocol classes costs every cold start
    from emr_autopilot.serverless_jobs import _Step

    class _Job(Protocol):
        @property
        def cluster(self) -> object | None: ...
        @property
        def serverless(self) -> object | None: ...
        @property
        def eks(self) -> EksSpec | None: ...
        @property
        def steps(self) -> Sequence[_Step]: ...


def check_eks_target(job: "_Job") -> None:
    """Raise _FieldError for the first field an emr-eks job refuses."""
    if job.cluster is not None:
        raise _FieldError(
            "cluster",
            "read a cluster section on an emr-eks job: EMR on EKS runs on a virtual cluster, not an EMR cluster. "
            "Allowed: an eks section instead, or compute: emr-ec2; e.g. eks: {virtual_cluster_id: "
            "abcdefghijklmnop0123456789, ...}",
        )
    if job.serverless is not None:
        raise _FieldError(
            "serverless",
            "read a serverless section on an emr-eks job: it applies to compute: emr-serverless only. "
            "Allowed: an eks section, or compute: emr-serverless (and no eks section)",
        )
    if job.eks is None:
        raise _FieldError(
            "eks",
            "missing: an emr-eks job needs an eks section. Allowed: virtual_cluster_id, execution_role and "
            "release_label; e.g. eks: {virtual_cluster_id: abcdefghijklmnop0123456789, execution_role: "
            "arn:aws:iam::123456789012:role/emr-autopilot-eks-jobs, release_label: emr-7.5.0-latest}",
        )
    for index, step in enumerate(job.steps):
        _check_eks_step(index, step)


def _check_eks_step(index: int, step: "_Step") -> None:
    where = f"steps.{index}"
    if step.type != "spark-submit":
        raise _FieldError(
            f"{where}.type",
            f"read {step.type!r}: this tool runs spark-submit job runs on EMR on EKS (SparkSubmitJobDriver), not "
            f"{step.type} steps. Allowed: spark-submit, or compute: emr-ec2; e.g. type: spark-submit",
        )
    check_job_run_step(where, step, COMPUTE, "EMR on EKS")
