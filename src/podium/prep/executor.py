"""Run recipes on DuckDB: resolve what the compiler needs from the data, check every
step against the schema it receives, and produce the final query.

`prepare` walks the steps in order. For each one it fits learned values (one-hot
categories, ordinal orders) by querying the rows entering the step, compiles the step,
and asks DuckDB to describe the result, so that a reference to a missing column or a bad
expression is reported as "step N (op): reason" before any output is produced. Python
steps split the chain: the SQL before them is streamed through the function in Arrow
batches into a table that the rest of the recipe reads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from podium.errors import ValidationError
from podium.prep import steps as S
from podium.prep.compiler import RightTable, StepInput, chain_sql, compile_step, fit_sql, needs_fit
from podium.prep.progress import QueryProgress, watch_query
from podium.prep.quoting import ident
from podium.prep.readers import ReadOptions, pinned_read_sql, read_sql
from podium.prep.recipe import Recipe


class TableResolver(Protocol):
    """Turns the right-hand side of a join into a table expression the connection can read."""

    def table_sql(self, ref: S.TableRef, con: duckdb.DuckDBPyConnection) -> str:
        """A FROM-able SQL expression for `ref`; raises NotFoundError when it does not exist."""
        ...


class FileResolver:
    """Resolves joins with files by path; catalog tables need `podium.catalog`'s resolver."""

    def table_sql(self, ref: S.TableRef, con: duckdb.DuckDBPyConnection) -> str:
        from podium.prep.engine import ensure_filesystem

        if ref.path is None:
            raise ValidationError(
                f"joining with catalog table '{ref.table}' needs a metadata store; "
                "run through `podium recipe` or pass a catalog resolver"
            )
        ensure_filesystem(con, ref.path)
        return read_sql([ref.path], ReadOptions(format=ref.format))


@dataclass(frozen=True)
class PreparedStep:
    """A step as it will run: its number (1-based), SQL and the columns it produces."""

    number: int
    step: S.Step
    relation: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    ctes: tuple[tuple[str, str], ...]
    fitted: tuple[Any, ...] | None


@dataclass(frozen=True)
class Prepared:
    """A recipe ready to run: `sql` reads the source (and tables made by Python steps)."""

    recipe: Recipe
    source: str
    steps: tuple[PreparedStep, ...]
    sql: str
    columns: tuple[str, ...]
    types: tuple[str, ...]

    def sql_after(self, number: int, limit: int | None = None) -> str:
        """The query for the rows after step `number` (0 = the source)."""
        if number == 0:
            return chain_sql(self.source, [], final=self.source, limit=limit)
        step = self.steps[number - 1]
        return chain_sql(step.relation, list(step.ctes), limit=limit)


def _fail(number: int, step: S.Step, message: str) -> ValidationError:
    return ValidationError(f"step {number} ({step.op}): {message}", details={"step": number, "op": step.op})


def _duck_message(exc: Exception) -> str:
    text = str(exc).strip()
    for prefix in ("Binder Error: ", "Parser Error: ", "Catalog Error: ", "Conversion Error: "):
        text = text.replace(prefix, "")
    return text.splitlines()[0] if text else type(exc).__name__


def _describe(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    rel = con.sql(sql)
    return tuple(rel.columns), tuple(str(t) for t in rel.types)


def load_function(ref: str) -> Callable[[pa.RecordBatch], Any]:
    """Import a 'module:callable' reference."""
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(f"cannot import '{ref}': {exc}") from None
    if not callable(obj):
        raise ValidationError(f"'{ref}' is not callable")
    return obj  # type: ignore[no-any-return]


def _as_batches(result: Any, number: int, step: S.Step) -> list[pa.RecordBatch]:
    if isinstance(result, pa.RecordBatch):
        return [result]
    if isinstance(result, pa.Table):
        return result.to_batches() or [pa.RecordBatch.from_pylist([], schema=result.schema)]
    raise _fail(number, step, f"the function returned {type(result).__name__}, not an Arrow RecordBatch or Table")


def _run_python(
    con: duckdb.DuckDBPyConnection, sql: str, step: S.Python, number: int, table: str
) -> None:
    """Stream `sql` through the step's function into a new table named `table`."""
    try:
        fn = load_function(step.function)
    except ValidationError as exc:
        raise _fail(number, step, exc.message) from None
    cursor = con.cursor()
    reader = con.sql(sql).to_arrow_reader(step.batch_size)
    created = False
    schema: pa.Schema | None = None

    def outputs() -> Iterator[pa.RecordBatch]:
        seen = False
        for batch in reader:
            seen = True
            yield from _as_batches(fn(batch), number, step)
        if not seen:
            # No input rows: the function still decides the output columns.
            yield from _as_batches(fn(pa.RecordBatch.from_pylist([], schema=reader.schema)), number, step)

    try:
        for out in outputs():
            if schema is None:
                schema = out.schema
            elif not out.schema.equals(schema):
                raise _fail(number, step, f"batches have different columns: {schema} then {out.schema}")
            cursor.register("_podium_batch", out)
            if not created:
                cursor.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _podium_batch")
                created = True
            else:
                cursor.execute(f"INSERT INTO {table} SELECT * FROM _podium_batch")
            cursor.unregister("_podium_batch")
    except ValidationError:
        raise
    except duckdb.Error as exc:
        raise _fail(number, step, _duck_message(exc)) from None
    except Exception as exc:
        raise _fail(number, step, f"the function raised {type(exc).__name__}: {exc}") from exc
    finally:
        cursor.close()


def prepare(
    recipe: Recipe,
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    resolver: TableResolver | None = None,
    carry: tuple[str, ...] = (),
    run_python: bool = True,
) -> Prepared:
    """Check and compile `recipe` over the table or view named `source`.

    `carry` names provenance columns of the source that steps keep when they can.
    Python steps are executed here (their output feeds the rest of the recipe);
    with `run_python=False` a recipe with Python steps is only checked up to the first one.
    """
    resolver = resolver or FileResolver()
    segment_source = source
    ctes: list[tuple[str, str]] = []
    columns, types = _describe(con, f"SELECT * FROM {source}")
    prepared: list[PreparedStep] = []
    current = source
    carried = tuple(c for c in carry if c in columns)
    for index, step in enumerate(recipe.steps):
        number = index + 1
        if isinstance(step, S.Python):
            if not run_python:
                break
            table = f"_podium_python_{number}"
            _run_python(con, chain_sql(segment_source, ctes, final=current), step, number, table)
            segment_source, ctes, current = table, [], table
            columns, types = _describe(con, f"SELECT * FROM {table}")
            carried = tuple(c for c in carried if c in columns)
            prepared.append(PreparedStep(number, step, table, columns, types, (), None))
            continue
        inp = StepInput(current, columns, dict(zip(columns, types, strict=True)), carried)
        try:
            fitted = None
            if needs_fit(step):
                fit_query = _fit_query(segment_source, ctes, current, step)
                rows = con.sql(fit_query).fetchall()
                if isinstance(step, S.Ordinal) and len(rows) > 10_000:
                    raise _fail(number, step, "more than 10000 distinct values; give 'order' explicitly")
                fitted = tuple(r[0] for r in rows)
            right = None
            if isinstance(step, S.Join):
                right_sql = resolver.table_sql(step.with_, con)
                right_cols, _ = _describe(con, f"SELECT * FROM {right_sql}")
                right = RightTable(right_sql, right_cols)
            inp = StepInput(current, columns, inp.types, carried, fitted, right)
            new = compile_step(step, index, inp)
            trial = ctes + new
            columns, types = _describe(con, chain_sql(segment_source, trial))
        except ValidationError as exc:
            if exc.message.startswith("step "):
                raise
            raise _fail(number, step, exc.message) from None
        except duckdb.Error as exc:
            raise _fail(number, step, _duck_message(exc)) from None
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise _fail(number, step, f"produces duplicate column names {dupes}; rename one first")
        ctes = trial
        current = new[-1][0]
        carried = tuple(c for c in carried if c in columns)
        prepared.append(PreparedStep(number, step, current, columns, types, tuple(ctes), fitted))
    final_sql = chain_sql(segment_source, ctes, final=current)
    return Prepared(recipe, source, tuple(prepared), final_sql, columns, types)


def _fit_query(segment_source: str, ctes: list[tuple[str, str]], current: str, step: S.Step) -> str:
    inner = fit_sql(step, "fit_input")
    body = chain_sql(segment_source, ctes, final=current)
    return f"WITH fit_input AS ({body}) {inner}"


def source_from(con: duckdb.DuckDBPyConnection, data: Any, name: str = "source") -> str:
    """Make `data` readable as the view `name`: an Arrow table, a pandas DataFrame, a file
    path or glob (format from its extension), or a list of paths."""
    from podium.prep.engine import ensure_filesystem

    if isinstance(data, (str, list)):
        paths = [data] if isinstance(data, str) else list(data)
        for p in paths:
            ensure_filesystem(con, p)
        con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * FROM {pinned_read_sql(con, paths)}")
    else:
        con.register(f"{name}_data", data)
        con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * FROM {ident(name + '_data')}")
    return ident(name)


def apply_recipe(recipe: Recipe, data: Any, *, resolver: TableResolver | None = None) -> pa.Table:
    """Run `recipe` over `data` (see `source_from`) and return all result rows."""
    from podium.prep.engine import connect

    con = connect()
    try:
        src = source_from(con, data)
        prepared = prepare(recipe, con, src, resolver=resolver)
        return con.sql(prepared.sql).to_arrow_table()
    finally:
        con.close()


def run_recipe(
    recipe: Recipe,
    source: Any,
    output: str,
    *,
    resolver: TableResolver | None = None,
    memory_limit: str | None = None,
    progress: QueryProgress | None = None,
) -> int:
    """Run `recipe` over `source` and write the result to `output` (.parquet or .csv);
    returns the number of rows written. Rows stream from the source to the file (steps
    that need statistics read their input once more); the output's row order is not
    guaranteed, which lets DuckDB write in parallel with little memory.

    `progress(stage, percent)` is called from a watcher thread while the queries run:
    stage "prepare" (checking the steps and fitting statistics, one query per fitted step)
    then "write" (the single query that reads, transforms and writes every row)."""
    from podium.prep.engine import connect, ensure_filesystem

    con = connect(memory_limit=memory_limit)
    try:
        con.execute("SET preserve_insertion_order = false")
        src = source_from(con, source)
        with watch_query(con, "prepare", progress):
            prepared = prepare(recipe, con, src, resolver=resolver)
        ensure_filesystem(con, output)
        fmt = "csv" if output.lower().endswith(".csv") else "parquet"
        target = output.replace("'", "''")
        with watch_query(con, "write", progress):
            # COPY returns the number of rows it wrote: no second read of the output.
            written = con.execute(f"COPY ({prepared.sql}) TO '{target}' (FORMAT {fmt})").fetchall()
        return int(written[0][0])
    finally:
        con.close()
