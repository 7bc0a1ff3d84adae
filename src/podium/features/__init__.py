"""The feature store (SageMaker Feature Store stand-in): feature groups, an offline log in
the lake, an online latest-value store, and point-in-time correct training sets."""

from podium.features.feature_store import FeatureStore, IngestResult, TrainingSet
from podium.features.group import Feature, FeatureGroup, define_group
from podium.features.point_in_time import (
    STATUS_DELETED,
    STATUS_EXPIRED,
    STATUS_NO_DATA,
    STATUS_OK,
)

__all__ = [
    "STATUS_DELETED",
    "STATUS_EXPIRED",
    "STATUS_NO_DATA",
    "STATUS_OK",
    "Feature",
    "FeatureGroup",
    "FeatureStore",
    "IngestResult",
    "TrainingSet",
    "define_group",
]
