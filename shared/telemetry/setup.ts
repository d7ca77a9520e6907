// OpenTelemetry for the worker: one SDK (traces, metrics, logs), started once, before the Redis client.
// Where it sends: to Application Insights when the app has APPLICATIONINSIGHTS_CONNECTION_STRING (with the
// managed identity when APPLICATIONINSIGHTS_AUTHENTICATION_STRING says AAD), to any OTLP collector when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (or to the console with OTEL_TRACES_EXPORTER=console), and nowhere
// otherwise (no SDK at all: nothing is recorded). The SDK and exporters are loaded only when used: they
// take about 1.5 s to load, which every cold start would pay otherwise.
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OpenTelemetry as RedisOpenTelemetry } from 'redis';

import { getTelemetryConfig, type TelemetryConfig } from '../config.js';
import { KeepFailuresProcessor } from './keepFailures.js';
import { subscribeRedisSpans } from './redisSpans.js';
import { setTelemetryOn, telemetryOn } from './tracer.js';

/** Where telemetry goes; tests pass in-memory processors and readers. */
export interface TelemetryTargets {
  spanProcessors: SpanProcessor[];
  metricReaders: IMetricReader[];
  logRecordProcessors: LogRecordProcessor[];
}

let sdk: NodeSDK | undefined;
// node-redis's metrics can be initialised once per process.
let redisMetricsOn = false;

async function azureTargets(
  settings: TelemetryConfig,
  appInsights: NonNullable<TelemetryConfig['appInsights']>,
): Promise<TelemetryTargets> {
  const [{ ManagedIdentityCredential }, exporters, traces, metrics, logs] = await Promise.all([
    import('@azure/identity'),
    import('@azure/monitor-opentelemetry-exporter'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/sdk-logs'),
  ]);
  // Local authentication is off on the component: telemetry is accepted only with an Entra token.
  const auth = appInsights.authentication;
  const clientId = /ClientId=([^;]+)/i.exec(auth)?.[1];
  const options = {
    connectionString: appInsights.connectionString,
    ...(/Authorization=AAD/i.test(auth)
      ? { credential: new ManagedIdentityCredential(clientId ? { clientId } : {}) }
      : {}),
  };
  return {
    // Every failed request is kept; successful ones at OTEL_TRACES_SAMPLER_ARG (default: all).
    spanProcessors: [
      new KeepFailuresProcessor(
        new traces.BatchSpanProcessor(new exporters.AzureMonitorTraceExporter(options)),
        settings.successRatio,
      ),
    ],
    metricReaders: [
      new metrics.PeriodicExportingMetricReader({
        exporter: new exporters.AzureMonitorMetricExporter(options),
        exportIntervalMillis: 60_000,
      }),
    ],
    logRecordProcessors: [
      new logs.BatchLogRecordProcessor({ exporter: new exporters.AzureMonitorLogExporter(options) }),
    ],
  };
}

/**
 * Starts telemetry once per process; resolves with whether it is on. Without targets and without Azure or
 * OTLP settings it stays off and loads nothing.
 */
export async function startTelemetry(
  targets?: TelemetryTargets,
  settings: TelemetryConfig = getTelemetryConfig(),
): Promise<boolean> {
  if (sdk || telemetryOn()) return true;
  const { appInsights } = settings;
  if (!targets && !appInsights && !settings.otelExporters) return false;
  const chosen = targets ?? (appInsights ? await azureTargets(settings, appInsights) : undefined);
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  // Without chosen targets the SDK builds the exporters from the standard OTEL_* variables itself.
  sdk = new NodeSDK({ serviceName: settings.serviceName, ...(chosen ?? {}), instrumentations: [] });
  sdk.start();
  setTelemetryOn(true);
  // node-redis's own metrics (command duration, connections, errors) and a span per Redis command:
  // REDIS_TELEMETRY=spans, metrics, or on for both (docs/observability.md, for what each costs).
  if (settings.redisMetrics && !redisMetricsOn) {
    RedisOpenTelemetry.init({
      metrics: { enabled: true, enabledMetricGroups: ['command', 'connection-basic', 'resiliency'] },
    });
    redisMetricsOn = true;
  }
  if (settings.redisSpans) subscribeRedisSpans();
  return true;
}

/** Flushes and stops telemetry (on shutdown, and between tests). */
export async function stopTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  if (running) setTelemetryOn(false);
  await running?.shutdown();
}
