"""Every metadata table, on one MetaData. Each area keeps its tables in its own module here.

Register a new area's module with one import line below.
"""

from podium.store.tables import catalog  # noqa: F401
from podium.store.tables import core  # noqa: F401  (registers its tables on metadata)
from podium.store.tables import engine  # noqa: F401
from podium.store.tables import features  # noqa: F401
from podium.store.tables import ingest  # noqa: F401
from podium.store.tables import models  # noqa: F401
from podium.store.tables import serving  # noqa: F401
from podium.store.tables import streams  # noqa: F401
from podium.store.tables import triggers  # noqa: F401
from podium.store.tables.meta import metadata

__all__ = ["metadata"]
