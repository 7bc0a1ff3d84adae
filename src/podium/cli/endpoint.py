"""`podium endpoint`: manage endpoints on a running `podium server` (or `podium serve`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from podium.cli.context import cli_state, emit

app = typer.Typer(help="Endpoints: create, deploy with canary/linear/all-at-once, invoke, watch. "
                       "Talks to the running server at server_host:server_port.", no_args_is_help=True)


def _call(ctx: typer.Context, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    from podium.errors import BackendUnavailableError, PodiumError

    settings = cli_state(ctx).settings
    base = f"http://{settings.server_host}:{settings.server_port}"
    headers = kwargs.pop("headers", {})
    if settings.api_token:
        headers["Authorization"] = f"Bearer {settings.api_token}"
    try:
        response = httpx.request(method, base + path, headers=headers, timeout=600, **kwargs)
    except httpx.ConnectError:
        raise BackendUnavailableError(
            f"no Podium server at {base}; start one with `podium server` (or set server_host/server_port)"
        ) from None
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {"code": "HTTPError", "message": response.text}
        raise PodiumError(body.get("message", response.text), code=body.get("code", "HTTPError"))
    return response


def _load(path: Path) -> Any:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


@app.command("create-config")
def create_config(ctx: typer.Context, file: Path = typer.Argument(..., help="JSON/YAML with "
                  "EndpointConfigName and ProductionVariants.")) -> None:
    """Create an endpoint config.

    Example: podium endpoint create-config examples/nightly-retrain/endpoint-config.json
    """
    emit(ctx, _call(ctx, "POST", "/endpoint-configs", json=_load(file)).json())


@app.command("create")
def create(ctx: typer.Context, name: str, config: str = typer.Option(..., help="Endpoint config name.")) -> None:
    """Create an endpoint; returns once its workers pass their health check.

    Example: podium endpoint create propensity --config propensity-v1
    """
    emit(ctx, _call(ctx, "POST", "/endpoints", json={"EndpointName": name, "EndpointConfigName": config}).json())


@app.command("update")
def update(ctx: typer.Context, name: str, config: str = typer.Option(..., help="New endpoint config name."),
           policy: Path | None = typer.Option(None, help="DeploymentConfig JSON/YAML (default: all at once).")) -> None:
    """Deploy a new config with a deployment policy (canary, linear, all at once) and alarms.

    Example: podium endpoint update propensity --config propensity-v2 --policy canary.json
    """
    body = {"EndpointConfigName": config, "DeploymentConfig": _load(policy) if policy else None}
    emit(ctx, _call(ctx, "PUT", f"/endpoints/{name}", json=body).json())


@app.command("describe")
def describe(ctx: typer.Context, name: str) -> None:
    """Describe an endpoint with its live traffic shares.

    Example: podium endpoint describe propensity
    """
    emit(ctx, _call(ctx, "GET", f"/endpoints/{name}").json())


@app.command("list")
def list_endpoints(ctx: typer.Context) -> None:
    """List endpoints.

    Example: podium endpoint list
    """
    emit(ctx, _call(ctx, "GET", "/endpoints").json(),
         columns=["EndpointName", "EndpointConfigName", "EndpointStatus", "TrafficShares"])


@app.command("deployments")
def deployments(ctx: typer.Context, name: str) -> None:
    """Deployment history: every traffic shift and why.

    Example: podium endpoint deployments propensity
    """
    history = _call(ctx, "GET", f"/endpoints/{name}/deployments").json()
    if cli_state(ctx).json:
        emit(ctx, history)
        return
    rows = [{"deployment": d["id"], "to": d["to"], "outcome": d["outcome"], "time": e["time"], "event": e["kind"],
             "green": f"{e['green_share']:.0%}", "detail": e["detail"]} for d in history for e in d["events"]]
    emit(ctx, rows, title=f"Deployments of {name}")


@app.command("invoke")
def invoke(ctx: typer.Context, name: str, body: str = typer.Option(..., help="Request body, or @file."),
           content_type: str = typer.Option("application/json", help="application/json or text/csv."),
           variant: str | None = typer.Option(None, help="Pin a variant (TargetVariant).")) -> None:
    """Invoke an endpoint and print the prediction.

    Example: podium endpoint invoke propensity --body '[[0.3, 1.0, 4.2]]'
    """
    payload = Path(body[1:]).read_bytes() if body.startswith("@") else body.encode()
    headers = {"content-type": content_type}
    if variant:
        headers["TargetVariant"] = variant
    response = _call(ctx, "POST", f"/endpoints/{name}/invocations", content=payload, headers=headers)
    typer.echo(response.text)


@app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Drain and delete an endpoint.

    Example: podium endpoint delete propensity
    """
    _call(ctx, "DELETE", f"/endpoints/{name}")
    emit(ctx, {"deleted": name})


@app.command("alarm")
def alarm(ctx: typer.Context, name: str,
          endpoint: str | None = typer.Option(None, help="EndpointName dimension."),
          config: str | None = typer.Option(None, help="EndpointConfigName dimension: watch only that fleet."),
          variant: str | None = typer.Option(None, help="VariantName dimension."),
          metric: str = typer.Option("Invocation5XXErrors", help="Metric (Invocations, Invocation5XXErrors, "
                                     "Invocation4XXErrors, ModelLatency, OverheadLatency)."),
          statistic: str = typer.Option("Sum", help="Sum, SampleCount, Average, Minimum, Maximum, p50..p99."),
          threshold: float = typer.Option(..., help="Threshold value."),
          comparison: str = typer.Option("GreaterThanThreshold", help="ComparisonOperator."),
          denominator: str | None = typer.Option(None, help="Make it a ratio alarm: Sum(metric)/Sum(this)."),
          period: float = typer.Option(60.0, help="Period in seconds."),
          evaluation_periods: int = typer.Option(1, help="EvaluationPeriods."),
          datapoints: int = typer.Option(1, help="DatapointsToAlarm."),
          min_samples: int = typer.Option(1, help="Fewer samples in a period: INSUFFICIENT_DATA."),
          file: Path | None = typer.Option(None, help="PutMetricAlarm JSON/YAML instead of the options.")) -> None:
    """Create or replace a metric alarm that deployments can roll back on.

    Example: podium endpoint alarm green-5xx --endpoint propensity --config propensity-v2
    --denominator Invocations --threshold 0.01 --period 60 --min-samples 20
    """
    if file is not None:
        body = _load(file)
    else:
        dimensions = [{"Name": k, "Value": v} for k, v in (("EndpointName", endpoint), ("EndpointConfigName", config),
                                                          ("VariantName", variant)) if v]
        body = {"MetricName": metric, "Dimensions": dimensions, "Statistic": statistic, "Threshold": threshold,
                "ComparisonOperator": comparison, "DenominatorMetricName": denominator, "Period": period,
                "EvaluationPeriods": evaluation_periods, "DatapointsToAlarm": datapoints, "MinSamples": min_samples}
    emit(ctx, _call(ctx, "PUT", f"/alarms/{name}", json=body).json())


@app.command("alarms")
def alarms(ctx: typer.Context) -> None:
    """List alarms with their current state (OK, ALARM, INSUFFICIENT_DATA).

    Example: podium endpoint alarms
    """
    emit(ctx, _call(ctx, "GET", "/alarms").json(),
         columns=["AlarmName", "MetricName", "Threshold", "StateValue", "StateReason"])


@app.command("alarm-history")
def alarm_history(ctx: typer.Context, name: str) -> None:
    """Every state an alarm entered, with the reason (kept across server restarts).

    Example: podium endpoint alarm-history green-5xx
    """
    emit(ctx, _call(ctx, "GET", f"/alarms/{name}/history").json(),
         columns=["Timestamp", "StateValue", "StateReason"], title=f"History of alarm {name}")


@app.command("delete-alarm")
def delete_alarm(ctx: typer.Context, name: str) -> None:
    """Delete an alarm.

    Example: podium endpoint delete-alarm green-5xx
    """
    _call(ctx, "DELETE", f"/alarms/{name}")
    emit(ctx, {"deleted": name})


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@app.command("watch")
def watch(ctx: typer.Context, name: str, interval: float = typer.Option(1.0, help="Seconds between refreshes."),
          window: float = typer.Option(30.0, help="Seconds of traffic the figures cover."),
          count: int = typer.Option(0, help="Stop after this many refreshes (0: until Ctrl-C).")) -> None:
    """Live traffic split, error rates and p99 latency per variant while a deployment runs.

    Example: podium endpoint watch propensity --window 30
    """
    from rich.live import Live
    from rich.table import Table

    def render() -> Table:
        described = _call(ctx, "GET", f"/endpoints/{name}").json()
        summary = _call(ctx, "GET", f"/endpoints/{name}/metrics", params={"window": window}).json()
        table = Table(title=f"{name}: {described['EndpointStatus']} (last {window:g} s)")
        for column in ("config", "variant", "share set", "share seen", "requests", "4xx", "5xx",
                       "model p50 ms", "model p99 ms", "router p99 ms", "workers"):
            table.add_column(column)
        for row in summary["Variants"]:
            table.add_row(row["EndpointConfigName"], row["VariantName"], _percent(row["TrafficShare"]),
                          _percent(row["ObservedShare"]), str(row["Invocations"]),
                          _percent(row["Invocation4XXRate"]), _percent(row["Invocation5XXRate"]),
                          _ms(row["ModelLatencyP50"]), _ms(row["ModelLatencyP99"]), _ms(row["OverheadLatencyP99"]),
                          f"{row['LiveWorkers']}/{row['Workers']}")
        return table

    if cli_state(ctx).json:
        emit(ctx, _call(ctx, "GET", f"/endpoints/{name}/metrics", params={"window": window}).json())
        return
    shown = 0
    with Live(render(), console=cli_state(ctx).console, refresh_per_second=4) as live:
        while count == 0 or shown < count:
            time.sleep(interval)
            live.update(render())
            shown += 1
