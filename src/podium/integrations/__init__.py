"""ASL Task resources → Podium services: the one package that knows both the AWS resource ARNs
and the services they reach. `build_resources(settings, store)` gives the handlers that the
in-memory runner (`podium.asl.execute(resources=...)`) and the durable engine both take."""

from podium.integrations.registry import build_resources

__all__ = ["build_resources"]
