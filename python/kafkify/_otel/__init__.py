"""kafkify's OpenTelemetry half: which producers trace and meter (``hook_for``),
and the hook the native core calls per record (``hook.py``; the protocol is
described in ``src/telemetry.rs``).

Nothing here is imported unless a producer may trace: ``tracing=False,
otel_metrics=False`` never load it, and without ``opentelemetry-api`` installed
the default (None) turns both off.
"""

from __future__ import annotations

from typing import Any

from kafkify.errors import ConfigError


def _wanted(name: str, option: Any, accessor: str) -> bool | None:
    """True/False as given; None for "if an SDK is configured". Raises ConfigError."""
    if option is None or isinstance(option, bool):
        return option
    if callable(getattr(option, accessor, None)):
        return True
    raise ConfigError(
        f"invalid value for {name!r}: {type(option).__name__} (expected True, False, None "
        f"or an OpenTelemetry provider with {accessor}())"
    )


def _missing(name: str) -> ConfigError:
    return ConfigError(
        f"{name} needs the opentelemetry-api package, which is not installed "
        "(pip install 'kafkify[opentelemetry]')"
    )


def _tracer(option: Any) -> Any:
    """The tracer option asks for, or None."""
    wanted = _wanted("tracing", option, "get_tracer")
    if wanted is False:
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        if wanted:
            raise _missing("tracing") from None
        return None
    from kafkify import __version__
    from kafkify._otel.semconv import SCHEMA_URL

    provider = option if not isinstance(option, bool) and option is not None else None
    if provider is None:
        provider = trace.get_tracer_provider()
        configured = not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
        if wanted is None and not configured:
            return None
    return provider.get_tracer("kafkify", __version__, schema_url=SCHEMA_URL)


def _meter_provider(option: Any) -> Any:
    """The meter provider option asks for, or None."""
    wanted = _wanted("otel_metrics", option, "get_meter")
    if wanted is False:
        return None
    try:
        from opentelemetry import metrics
    except ImportError:
        if wanted:
            raise _missing("otel_metrics") from None
        return None
    if not isinstance(option, bool) and option is not None:
        return option
    provider = metrics.get_meter_provider()
    # Before set_meter_provider() the API hands out a proxy (a private class).
    configured = not isinstance(provider, metrics.NoOpMeterProvider) and (
        type(provider).__name__ != "_ProxyMeterProvider"
    )
    return provider if configured or wanted else None


def hook_for(
    tracing: Any, otel_metrics: Any, client_id: str | None, bootstrap: str | None, gauges: Any
) -> Any:
    """A new producer's hook, or None when it neither traces nor meters.

    ``tracing``/``otel_metrics``: the constructor's options; ``gauges``: the
    native reader of its in-flight records and queued bytes.
    Raises ConfigError for an invalid option, or True without OpenTelemetry.
    """
    tracer = _tracer(tracing)
    meter_provider = _meter_provider(otel_metrics)
    if tracer is None and meter_provider is None:
        return None
    from kafkify._otel.hook import Hook

    return Hook(tracer, meter_provider, client_id, bootstrap, gauges)
