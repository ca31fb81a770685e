"""kafkify's OpenTelemetry half: which producers trace and meter (``hook_for``),
and the hook the native core calls per record (``hook.py``; the protocol is
described in ``src/telemetry.rs``).

Nothing here is imported unless a producer may trace: ``tracing=False,
otel_metrics=False`` never load it, and without ``opentelemetry-api`` installed
the default (None) turns both off.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _global_tracer_provider() -> tuple[Any, bool]:
    """The global tracer provider, and whether an application set one."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    unset = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    return provider, not isinstance(provider, unset)


def _global_meter_provider() -> tuple[Any, bool]:
    """The global meter provider, and whether an application set one."""
    from opentelemetry import metrics

    provider = metrics.get_meter_provider()
    # Before set_meter_provider() the API hands out a proxy (a private class).
    unset = isinstance(provider, metrics.NoOpMeterProvider) or (
        type(provider).__name__ == "_ProxyMeterProvider"
    )
    return provider, not unset


def _provider(
    name: str, option: Any, accessor: str, global_provider: Callable[[], tuple[Any, bool]]
) -> Any:
    """The provider ``option`` asks for, or None (off). Raises ConfigError."""
    wanted = _wanted(name, option, accessor)
    if wanted is False:
        return None
    try:
        provider, configured = global_provider()
    except ImportError:
        if wanted:
            raise _missing(name) from None
        return None
    if not isinstance(option, bool) and option is not None:
        return option  # the caller's own provider
    return provider if configured or wanted else None


def hook_for(
    tracing: Any, otel_metrics: Any, client_id: str | None, bootstrap: str | None, gauges: Any
) -> Any:
    """A new producer's hook, or None when it neither traces nor meters.

    ``tracing``/``otel_metrics``: the constructor's options; ``gauges``: the
    native reader of its in-flight records and queued bytes.
    Raises ConfigError for an invalid option, or True without OpenTelemetry.
    """
    tracer_provider = _provider("tracing", tracing, "get_tracer", _global_tracer_provider)
    meter_provider = _provider("otel_metrics", otel_metrics, "get_meter", _global_meter_provider)
    if tracer_provider is None and meter_provider is None:
        return None
    from kafkify import __version__
    from kafkify._otel.hook import Hook
    from kafkify._otel.semconv import SCHEMA_URL

    tracer = None
    if tracer_provider is not None:
        tracer = tracer_provider.get_tracer("kafkify", __version__, schema_url=SCHEMA_URL)

    return Hook(tracer, meter_provider, client_id, bootstrap, gauges)
