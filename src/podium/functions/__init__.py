"""Functions that workflows call: the Lambda stand-in.

Register a Python callable `handler(event, context)` by name, in `podium.toml`
(`[functions] score = "mypkg.jobs:score"`) or with the `@function(...)` decorator, and call it
from a Task state. Each invocation runs in a reusable worker subprocess (`FunctionPool`), so a
function that raises, hangs, leaks or kills its process cannot take the engine down.
"""

from podium.functions.errors import FunctionError
from podium.functions.pool import FunctionPool, Invocation
from podium.functions.registry import FunctionRegistry, FunctionSpec, function

__all__ = ["FunctionError", "FunctionPool", "FunctionRegistry", "FunctionSpec", "Invocation", "function"]
