"""SageMaker service integrations: training jobs, model packages, endpoints.

Supported Task resources (with `.sync` where AWS offers it):
  arn:aws:states:::sagemaker:createTrainingJob[.sync]
  arn:aws:states:::sagemaker:createModelPackage
  arn:aws:states:::sagemaker:createEndpointConfig
  arn:aws:states:::sagemaker:createEndpoint
  arn:aws:states:::sagemaker:updateEndpoint
  arn:aws:states:::podium:endpoints.deploy   (waits until the deployment succeeds or rolls back)

The training script is named as SageMaker's script mode names it — the hyperparameters
`sagemaker_program` and `sagemaker_submit_directory` — or with Podium's
`AlgorithmSpecification.EntryPoint` / `SourceDir`; the image, instance type and role fields
are accepted and ignored, since the job runs here.
"""

from __future__ import annotations

import json
from typing import Any

from podium.asl.errors import AslRuntimeError
from podium.config import Settings
from podium.errors import ValidationError
from podium.models import ModelRegistry, TrainingJobs, package_ref, parse_spec
from podium.serving import EndpointService
from podium.store import Store

ACCOUNT = "000000000000"
REGION = "local"
# Hyperparameters the SageMaker Python SDK adds for script mode; not passed to the script.
SDK_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region",
                       "sagemaker_container_log_level", "sagemaker_job_name")


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def _channel_uri(channel: dict[str, Any]) -> str:
    source = channel.get("DataSource", {})
    for key in ("S3DataSource", "FileSystemDataSource"):
        if key in source:
            inner = source[key]
            return str(inner.get("S3Uri") or inner.get("DirectoryPath"))
    if "Uri" in source:
        return str(source["Uri"])
    raise ValidationError(f"InputDataConfig channel '{channel.get('ChannelName')}' has no S3Uri or Uri")


def training_spec(params: dict[str, Any]) -> dict[str, Any]:
    """A TrainingJobSpec (as data) from CreateTrainingJob parameters."""
    if not isinstance(params, dict) or not params.get("TrainingJobName"):
        raise ValidationError("createTrainingJob needs TrainingJobName")
    algorithm = params.get("AlgorithmSpecification") or {}
    hyperparameters = dict(params.get("HyperParameters") or {})
    entry_point = algorithm.get("EntryPoint") or _unquote(hyperparameters.get("sagemaker_program"))
    source_dir = algorithm.get("SourceDir") or _unquote(hyperparameters.get("sagemaker_submit_directory"))
    if not entry_point:
        raise ValidationError(
            "createTrainingJob needs the script: AlgorithmSpecification.EntryPoint or the "
            "sagemaker_program hyperparameter"
        )
    for key in SDK_HYPERPARAMETERS:
        hyperparameters.pop(key, None)
    checkpoint = params.get("CheckpointConfig") or {}
    spec: dict[str, Any] = {
        "name": params["TrainingJobName"],
        "entry_point": entry_point,
        "source_dir": source_dir,
        "hyperparameters": hyperparameters,
        "channels": {c["ChannelName"]: _channel_uri(c) for c in params.get("InputDataConfig") or []},
        "metric_definitions": algorithm.get("MetricDefinitions") or [],
        "environment": params.get("Environment") or {},
    }
    runtime = (params.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    if runtime:
        spec["max_runtime_seconds"] = runtime
    if checkpoint.get("LocalPath") or checkpoint.get("S3Uri"):
        spec["checkpoint_dir"] = checkpoint.get("LocalPath") or checkpoint.get("S3Uri")
    return spec


def _unquote(value: Any) -> str | None:
    # The SDK JSON-encodes hyperparameter values: '"train.py"'.
    if not isinstance(value, str):
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def _jsonable(described: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(described, default=str))
    return result


class SageMakerIntegration:
    """Handlers for the SageMaker resources, bound to one Podium home."""

    def __init__(self, settings: Settings, store: Store, endpoints: EndpointService | None = None) -> None:
        self.jobs = TrainingJobs(settings, store)
        self.registry = ModelRegistry(store)
        self._endpoints = endpoints
        self.settings, self.store = settings, store

    @property
    def endpoints(self) -> EndpointService:
        if self._endpoints is None:
            self._endpoints = EndpointService(self.settings, self.store)
        return self._endpoints

    def create_training_job(self, params: dict[str, Any], *, sync: bool) -> dict[str, Any]:
        spec = parse_spec(training_spec(params))
        described = self.jobs.create(spec, wait=sync)
        if not sync:
            return {"TrainingJobArn": arn("training-job", spec.name)}
        described = _jsonable(described)
        described["TrainingJobArn"] = arn("training-job", spec.name)
        if described["TrainingJobStatus"] != "Completed":
            raise AslRuntimeError("States.TaskFailed", json.dumps(described))
        return described

    def create_model_package(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("ModelPackageGroupName")
        if not group:
            raise ValidationError("createModelPackage needs ModelPackageGroupName")
        self.registry.create_group(group, exist_ok=True)
        containers = (params.get("InferenceSpecification") or {}).get("Containers") or [{}]
        container = containers[0]
        metadata = params.get("CustomerMetadataProperties") or {}
        inference = {k: v for k, v in {"entry_point": container.get("EntryPoint") or metadata.get("EntryPoint"),
                                        "source_dir": container.get("SourceDir") or metadata.get("SourceDir")}.items()
                     if v}
        version = self.registry.register(
            group,
            artifact_uri=container.get("ModelDataUrl"),
            training_job=params.get("TrainingJobName") or metadata.get("TrainingJobName"),
            inference=inference,
            description=params.get("ModelPackageDescription"),
            approval_status=params.get("ModelApprovalStatus", "PendingManualApproval"),
            approved_by=metadata.get("ApprovedBy", "workflow"),
            metrics={k: float(v) for k, v in (params.get("Metrics") or {}).items()},
        )
        return {"ModelPackageArn": arn("model-package", version["ModelPackage"]),
                "ModelPackage": version["ModelPackage"], "ModelPackageVersion": version["ModelPackageVersion"]}

    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        def variants(key: str) -> list[dict[str, Any]]:
            out = []
            for variant in params.get(key) or []:
                item = dict(variant)
                model = item.pop("ModelName", None)
                if model and "ModelVersion" not in item and "ModelDataUrl" not in item:
                    item["ModelVersion"] = model  # a registered version named group/N
                out.append(item)
            return out

        self.endpoints.create_endpoint_config(params["EndpointConfigName"], variants("ProductionVariants"),
                                              variants("ShadowProductionVariants"), params.get("DataCaptureConfig"))
        return {"EndpointConfigArn": arn("endpoint-config", params["EndpointConfigName"])}

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        self.endpoints.create_endpoint(params["EndpointName"], params["EndpointConfigName"])
        return {"EndpointArn": arn("endpoint", params["EndpointName"])}

    def update_endpoint(self, params: dict[str, Any], *, wait: bool) -> dict[str, Any]:
        name = params["EndpointName"]
        self.endpoints.update_endpoint(name, params["EndpointConfigName"], params.get("DeploymentConfig"),
                                       wait=wait)
        if not wait:
            return {"EndpointArn": arn("endpoint", name)}
        history = self.endpoints.deployments(name)[-1]
        outcome = _jsonable({"EndpointName": name, "Outcome": history["outcome"], "Reason": history["reason"],
                             "Events": history["events"],
                             "EndpointConfigName": self.endpoints.describe_endpoint(name)["EndpointConfigName"]})
        return outcome

    def handlers(self) -> dict[str, Any]:
        prefix = "arn:aws:states:::sagemaker:"
        return {
            prefix + "createTrainingJob.sync": lambda p: self.create_training_job(p, sync=True),
            prefix + "createTrainingJob": lambda p: self.create_training_job(p, sync=False),
            prefix + "createModelPackage": self.create_model_package,
            prefix + "createEndpointConfig": self.create_endpoint_config,
            prefix + "createEndpoint": self.create_endpoint,
            prefix + "updateEndpoint": lambda p: self.update_endpoint(p, wait=False),
            "arn:aws:states:::podium:endpoints.deploy": self.deploy,
            "arn:aws:states:::podium:models.approve": self.approve,
        }

    def deploy(self, params: dict[str, Any]) -> dict[str, Any]:
        """Podium-native: put EndpointConfigName on EndpointName and wait for the outcome.

        A new endpoint is created with the config; an existing one is updated with the
        DeploymentConfig (canary, linear, all at once) and the task returns once the deployment
        succeeded or rolled back. A rollback fails the task with Podium.DeploymentRolledBack.
        """
        from podium.errors import NotFoundError

        name = params["EndpointName"]
        try:
            self.endpoints.describe_endpoint(name)
        except NotFoundError:
            self.create_endpoint(params)
            return {"EndpointName": name, "Outcome": "Created", "EndpointConfigName": params["EndpointConfigName"]}
        outcome = self.update_endpoint(params, wait=True)
        if outcome["Outcome"] != "Succeeded":
            raise AslRuntimeError("Podium.DeploymentRolledBack", json.dumps(outcome))
        return outcome

    def approve(self, params: dict[str, Any]) -> dict[str, Any]:
        """Podium-native: set a model version's approval (ModelPackage 'group/N', Status, By, Reason)."""
        from podium.models import parse_ref

        group, version = parse_ref(params["ModelPackage"])
        result = self.registry.set_approval(group, version, params.get("Status", "Approved"),
                                            by=params.get("By", "workflow"), reason=params.get("Reason"))
        return {"ModelPackage": package_ref(group, version), "ModelApprovalStatus": result["ModelApprovalStatus"]}
