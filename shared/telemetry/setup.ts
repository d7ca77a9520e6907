// OpenTelemetry for the worker: one SDK (traces, metrics, logs), started once, before the Redis client.
// Where it sends: to Application Insights when the app has APPLICATIONINSIGHTS_CONNECTION_STRING (with the
// managed identity when APPLICATIONINSIGHTS_AUTHENTICATION_STRING says AAD), to any OTLP collector when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (or to the console with OTEL_TRACES_EXPORTER=console), and nowhere
// otherwise (no SDK at all: nothing is recorded).
import { ManagedIdentityCredential } from '@azure/identity';
import {
  AzureMonitorLogExporter,
  AzureMonitorMetricExporter,
  AzureMonitorTraceExporter,
} from '@azure/monitor-opentelemetry-exporter';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchLogRecordProcessor, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OpenTelemetry as RedisOpenTelemetry } from 'redis';
import { KeepFailuresProcessor, successRatio } from './keepFailures.js';
import { subscribeRedisSpans } from './redisSpans.js';
import { resetInstruments, setTelemetryOn, telemetryOn } from './tracer.js';

/** Where telemetry goes; tests pass in-memory processors and readers. */
export interface TelemetryTargets {
  spanProcessors: SpanProcessor[];
  metricReaders: IMetricReader[];
  logRecordProcessors: LogRecordProcessor[];
}

let sdk: NodeSDK | undefined;
// node-redis's metrics can be initialised once per process.
let redisMetricsOn = false;

function azureTargets(env: NodeJS.ProcessEnv): TelemetryTargets | undefined {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (!connectionString) return undefined;
  // Local authentication is off on the component: telemetry is accepted only with an Entra token.
  const aad = /Authorization=AAD/i.test(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '');
  const clientId = /ClientId=([^;]+)/i.exec(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? '')?.[1];
  const options = {
    connectionString,
    ...(aad ? { credential: new ManagedIdentityCredential(clientId ? { clientId } : {}) } : {}),
  };
  return {
    // Every failed request is kept; successful ones at OTEL_TRACES_SAMPLER_ARG (default: all).
    spanProcessors: [
      new KeepFailuresProcessor(
        new BatchSpanProcessor(new AzureMonitorTraceExporter(options)),
        successRatio(env),
      ),
    ],
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new AzureMonitorMetricExporter(options),
        exportIntervalMillis: 60_000,
      }),
    ],
    logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new AzureMonitorLogExporter(options) })],
  };
}

/**
 * Starts telemetry once per process; returns whether it is on. Without targets and without Azure or OTLP
 * settings it stays off and costs nothing.
 */
export function startTelemetry(targets?: TelemetryTargets, env = process.env): boolean {
  // Once per process, even if this module is loaded twice (a test starts it before the runner loads the app).
  if (sdk || telemetryOn()) return true;
  const chosen = targets ?? azureTargets(env);
  // OTEL_TRACES_EXPORTER=console prints spans to the console, with no collector at all.
  const fromEnv = !chosen && Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_TRACES_EXPORTER);
  if (!chosen && !fromEnv) return false;
  // Otherwise the SDK builds the exporters from the standard OTEL_* variables itself.
  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'azure-redis-cart',
    ...(chosen ?? {}),
    instrumentations: [],
  });
  sdk.start();
  setTelemetryOn(true);
  resetInstruments();
  // node-redis's own metrics (command duration, connections, errors) and a span per Redis command are
  // opt-in: in node-redis 6.3.1 each costs about half the handler's throughput (README, Observability).
  if (env.REDIS_TELEMETRY === 'on') {
    if (!redisMetricsOn)
      RedisOpenTelemetry.init({
        metrics: { enabled: true, enabledMetricGroups: ['command', 'connection-basic', 'resiliency'] },
      });
    redisMetricsOn = true;
    subscribeRedisSpans();
  }
  return true;
}

/** Flushes and stops telemetry (on shutdown, and between tests). */
export async function stopTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  if (running) setTelemetryOn(false);
  await running?.shutdown();
}
