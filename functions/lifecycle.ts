import { app } from '@azure/functions';

import { getConfig } from '../shared/config.js';
import { closeRedis } from '../shared/redis/client.js';
import { forwardLogs } from '../shared/telemetry/logs.js';
import { startTelemetry, stopTelemetry } from '../shared/telemetry/setup.js';

// Before the first request opens the Redis client, so node-redis's metrics see it. Off unless Application
// Insights or an OTLP endpoint is configured.
if (await startTelemetry()) forwardLogs();

// Requests and responses flow as streams between the host and this worker: the biglist export streams a
// whole list, and request bodies are counted against MAX_BODY_BYTES as they arrive instead of being
// buffered whole first. Needs Functions host 4.28 or later (Flex Consumption has it).
app.setup({ enableHttpStream: true });

// The settings are read when the worker starts, so a bad one (REDIS_DEADLINE_MS=abc, certificate checks
// turned off) stops the start with one line naming it, instead of a 500 from every route later.
app.hook.appStart(() => {
  getConfig();
});

// Close the shared client on graceful shutdown so in-flight replies are delivered, not cut off.
app.hook.appTerminate(async () => {
  try {
    await closeRedis();
  } catch (err) {
    console.warn(`Closing Redis failed: ${String(err)}`);
  }
  // Spans and metrics still buffered go out before the worker exits.
  await stopTelemetry().catch((err: unknown) => {
    console.warn(`Flushing telemetry failed: ${String(err)}`);
  });
});
