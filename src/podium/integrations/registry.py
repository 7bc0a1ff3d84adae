"""Every Task resource handler Podium offers, for one settings/store pair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podium.config import Settings
from podium.store import Store


def build_resources(settings: Settings, store: Store, *, endpoints: Any = None) -> dict[str, Callable[[Any], Any]]:
    """Resource ARN → handler(input) -> output, for `podium.asl.execute` and the engine."""
    from podium.integrations.delivery import DeliveryIntegration
    from podium.integrations.feature_store import FeatureStoreIntegration
    from podium.integrations.glue import GlueIntegration
    from podium.integrations.sagemaker import SageMakerIntegration

    handlers: dict[str, Callable[[Any], Any]] = {}
    handlers.update(SageMakerIntegration(settings, store, endpoints).handlers())
    handlers.update(GlueIntegration(settings, store).handlers())
    handlers.update(FeatureStoreIntegration(settings, store).handlers())
    handlers.update(DeliveryIntegration(settings, store).handlers())
    return handlers
