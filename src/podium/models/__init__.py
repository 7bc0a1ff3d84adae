"""Training jobs, the model registry and the lineage graph (SageMaker Training, Model Registry,
Lineage stand-ins)."""

from podium.models.lineage import Lineage, LineageNode
from podium.models.registry import ModelRegistry, package_ref, parse_ref
from podium.models.training import MetricDefinition, TrainingJobs, TrainingJobSpec, parse_spec

__all__ = [
    "Lineage",
    "LineageNode",
    "MetricDefinition",
    "ModelRegistry",
    "TrainingJobSpec",
    "TrainingJobs",
    "package_ref",
    "parse_ref",
    "parse_spec",
]
