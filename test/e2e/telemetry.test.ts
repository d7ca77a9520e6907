// Telemetry end to end through the local runner, with in-memory exporters in place of Application Insights:
// request spans with Redis child spans and the right status, a load's POST and every segment invocation in
// one trace, node-redis's command-duration metric, and no personal data or value in any attribute.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from '../support/app.js';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy.js';
import { call, until } from '../support/http.js';
import { admin } from '../support/redis.js';

// The app runs the build (the runner loads dist/), so the test starts and drives that copy of telemetry:
// one module state, as in production, where one worker loads the app once.
const built = (file: string) =>
  pathToFileURL(resolve(import.meta.dirname, '..', '..', 'dist', 'shared', 'telemetry', file)).href;
const { KeepFailuresProcessor } = (await import(
  built('keepFailures.js')
)) as typeof import('../../shared/telemetry/keepFailures.js');
const { startTelemetry, stopTelemetry } = (await import(
  built('setup.js')
)) as typeof import('../../shared/telemetry/setup.js');
const { inMessageSpan, markPoisoned } = (await import(
  built('spans.js')
)) as typeof import('../../shared/telemetry/spans.js');

const servers = inject('servers');
const KEY = 'otel-key';
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const logRecords = new InMemoryLogRecordExporter();
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
let runner: Runner;
let proxy: FaultProxy;
// The sampling's draw for successful traces: 0 keeps them all (ratio 1), 1 drops them all.
let draw = 0;

const api = (method: string, path: string, body?: unknown) =>
  call(runner.url, method, path, body, { 'x-functions-key': KEY });
const finished = () => spans.getFinishedSpans();
const server = (name: string) => finished().filter((s) => s.name === name && s.kind === SpanKind.SERVER);
const children = (parent: ReadableSpan) =>
  finished().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

beforeAll(async () => {
  proxy = await startFaultProxy(servers.standalone.port);
  // Read when telemetry starts, before the app loads.
  process.env.REDIS_TELEMETRY = 'on';
  // Started before the app loads, as functions/lifecycle.ts does with the real exporters.
  await startTelemetry({
    spanProcessors: [new KeepFailuresProcessor(new SimpleSpanProcessor(spans), 1, () => draw)],
    metricReaders: [reader],
    logRecordProcessors: [new SimpleLogRecordProcessor({ exporter: logRecords })],
  });
  runner = await startApp(servers, {
    key: KEY,
    redis: { port: proxy.port },
    env: { REDIS_DEADLINE_MS: '1000' },
  });
  await api('PUT', '/skus/sku123', { name: 'Secret headphones', price: '12345.67' });
  await api('POST', '/users', {
    id: 'otel1',
    firstName: 'Zelda',
    lastName: 'Quartz',
    email: 'zelda@example.com',
  });
});

afterAll(async () => {
  await runner.stop();
  await stopTelemetry();
  await proxy.close();
});

describe('telemetry', { timeout: 60_000 }, () => {
  it('records a request as a server span with a client span per Redis command under it', async () => {
    spans.reset();
    expect((await api('POST', '/carts/otel1/items', { skuId: 'sku123', quantity: 2 })).status).toBe(200);
    const [span, ...more] = server('POST /api/carts/{userId}/items');
    expect(more).toEqual([]);
    expect(span?.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/carts/{userId}/items',
      'http.response.status_code': 200,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    const redis = children(span!);
    expect(redis.length).toBeGreaterThan(0);
    for (const r of redis) {
      expect(r.kind).toBe(SpanKind.CLIENT);
      expect(r.attributes['db.system.name']).toBe('redis');
      expect(r.attributes['db.operation.name']).toMatch(/^[A-Z_.]+$/);
      expect(r.attributes['server.address']).toBeDefined();
      expect(r.spanContext().traceId).toBe(span!.spanContext().traceId);
    }
  });

  it('names the class of a failed command in its span, not a bare Error', async () => {
    spans.reset();
    await api('POST', '/users', { id: 'otel-wrongtype', firstName: 'W', lastName: 'T' });
    // A cart key of the wrong type (written by hand): the cart script fails with WRONGTYPE.
    await admin(servers.standalone.port, (c) => c.set('cart:otel-wrongtype', 'not a hash'));
    const res = await api('POST', '/carts/otel-wrongtype/items', { skuId: 'sku123' });
    expect(res.status).toBe(500);
    const [span] = server('POST /api/carts/{userId}/items');
    const failed = children(span!).filter((c) => c.status.code === SpanStatusCode.ERROR);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) {
      expect(f.attributes['error.type']).not.toBe('Error');
      expect(String(f.attributes['error.type'])).toMatch(/Error$/);
    }
  });

  it('gives a 4xx an unset status and a 503 an error status, and counts the 503', async () => {
    spans.reset();
    expect((await api('POST', '/carts/otel1/items', { skuId: 'sku123', quantity: 0 })).status).toBe(400);
    expect(server('POST /api/carts/{userId}/items')[0]?.status.code).toBe(SpanStatusCode.UNSET);
    spans.reset();
    proxy.stall();
    try {
      expect((await api('GET', '/carts/otel1')).status).toBe(503);
    } finally {
      proxy.pass();
    }
    const [span] = server('GET /api/carts/{userId}');
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes).toMatchObject({
      'http.response.status_code': 503,
      'error.type': 'redis_unavailable',
    });
    // The command that got no answer is there, failed, under the request.
    expect(children(span!).some((c) => c.status.code === SpanStatusCode.ERROR)).toBe(true);
    await reader.forceFlush();
    const names = metricExporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name)));
    expect(names).toContain('http.server.unavailable');
    expect(names).toContain('redis.client.deadline_exceeded');
    await until('Redis answers again', async () =>
      (await api('GET', '/carts/otel1')).status === 200 ? true : undefined,
    );
  });

  it('keeps every failed request with its Redis commands when the sampling drops successful ones', async () => {
    draw = 1;
    try {
      spans.reset();
      expect((await api('GET', '/carts/otel1')).status).toBe(200);
      expect((await api('POST', '/carts/otel1/items', { skuId: 'sku123', quantity: 0 })).status).toBe(400);
      expect(finished()).toEqual([]);
      proxy.stall();
      try {
        expect((await api('GET', '/carts/otel1')).status).toBe(503);
      } finally {
        proxy.pass();
      }
      const [failed, ...more] = server('GET /api/carts/{userId}');
      expect(more).toEqual([]);
      expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
      const commands = children(failed!);
      expect(commands.length).toBeGreaterThan(0);
      expect(commands.every((c) => c.kind === SpanKind.CLIENT)).toBe(true);
      // Nothing else: the dropped requests' commands were never made into spans.
      expect(finished().length).toBe(1 + commands.length);
    } finally {
      draw = 0;
    }
    await until('Redis answers again', async () =>
      (await api('GET', '/carts/otel1')).status === 200 ? true : undefined,
    );
  });

  it('puts the POST of a load and every segment invocation it causes in one trace', async () => {
    spans.reset();
    const started = await api('POST', '/biglist/loads', { count: 5000, segmentSize: 1000 });
    expect(started.status).toBe(202);
    await until('the load completes', async () => {
      const s = await api('GET', `/biglist/loads/${started.body.loadId as string}`);
      return s.body.state === 'completed' ? true : undefined;
    });
    const [post] = server('POST /api/biglist/loads');
    const traceId = post!.spanContext().traceId;
    // The last invocation's span ends just after the load is published.
    const segments = await until('five segment spans', async () => {
      const found = finished().filter((s) => s.name === 'process biglist-segments');
      return Promise.resolve(found.length >= 5 ? found : undefined);
    });
    for (const s of segments) {
      expect(s.kind).toBe(SpanKind.CONSUMER);
      expect(s.spanContext().traceId).toBe(traceId);
      expect(s.attributes['biglist.retry']).toBe(false);
      expect(children(s).some((c) => c.attributes['db.system.name'] === 'redis')).toBe(true);
    }
    // A segment's write starts with a MULTI (the first push and the copy's TTL): one span with its size.
    const batches = segments.flatMap((s) => children(s)).filter((c) => c.name === 'MULTI');
    expect(batches.length).toBeGreaterThanOrEqual(5);
    for (const b of batches) {
      expect(b.kind).toBe(SpanKind.CLIENT);
      expect(b.attributes['db.operation.batch.size']).toBe(2);
    }
    // The loader's logs are records in the same trace, with their invocation.
    const published = logRecords
      .getFinishedLogRecords()
      .find(
        (r) =>
          typeof r.body === 'string' && r.body.includes(`load ${started.body.loadId as string} published`),
      );
    expect(published?.spanContext?.traceId).toBe(traceId);
    expect(published?.attributes['faas.invocation_id']).toBeDefined();
    await reader.forceFlush();
    const points = metricExporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics.flatMap((sm) => sm.metrics))
      .filter((m) => m.descriptor.name === 'biglist.values.written')
      .flatMap((m) => m.dataPoints.map((p) => p.value as number));
    expect(points.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5000);
  });

  it('marks a redelivered message as a retry, and poisoned messages as such, in the trace they carry', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const carried = { traceparent: `00-${traceId}-00f067aa0ba902b7-01` };
    // Only the invocation id is read from the context when the message carries a trace.
    const invocation = { invocationId: 'otel-retry' };
    const deliver = (dequeueCount: number, run: () => Promise<void>) =>
      inMessageSpan(
        carried,
        {
          namespace: 'biglist',
          queue: 'biglist-segments',
          messageId: 'm1',
          dequeueCount,
          maxDequeueCount: 5,
        },
        invocation,
        run,
      ).then(
        () => 'ok',
        () => 'threw',
      );
    const last = () =>
      finished()
        .filter((s) => s.name === 'process biglist-segments')
        .at(-1);
    spans.reset();
    expect(await deliver(2, () => Promise.resolve())).toBe('ok');
    expect(last()?.attributes).toMatchObject({
      'biglist.retry': true,
      'messaging.azure.queue.dequeue_count': 2,
    });
    expect(last()?.spanContext().traceId).toBe(traceId);
    // Dead-lettered by the app itself (a malformed message).
    expect(
      await deliver(1, () => {
        markPoisoned('biglist');
        return Promise.resolve();
      }),
    ).toBe('ok');
    expect(last()?.attributes['biglist.poisoned']).toBe(true);
    // A failure before the last delivery is an error that will be retried; on the last, it is poisoned.
    expect(await deliver(3, () => Promise.reject(new Error('stalled')))).toBe('threw');
    expect(last()?.status.code).toBe(SpanStatusCode.ERROR);
    expect(last()?.attributes['biglist.poisoned']).toBe(false);
    expect(await deliver(5, () => Promise.reject(new Error('stalled')))).toBe('threw');
    expect(last()?.attributes['biglist.poisoned']).toBe(true);
    expect(last()?.events.map((e) => e.name)).toEqual([
      'poisoned: the host moves the message to the poison queue',
    ]);
  });

  it("records node-redis's command duration, and no name, email, price or list value anywhere", async () => {
    await reader.forceFlush();
    const all = metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const duration = all.find((m) => m.descriptor.name === 'db.client.operation.duration');
    expect(duration?.dataPoints.length).toBeGreaterThan(0);
    const attributes = JSON.stringify([
      ...finished().map((s) => [s.name, s.attributes, s.events]),
      ...logRecords.getFinishedLogRecords().map((r) => [r.body, r.attributes]),
      ...all.flatMap((m) => m.dataPoints.map((p) => p.attributes)),
    ]);
    for (const secret of ['Zelda', 'Quartz', 'zelda@example.com', '12345.67', 'Secret headphones'])
      expect(attributes).not.toContain(secret);
    // Command arguments (keys, fields, values) are never recorded.
    expect(attributes).not.toMatch(/db\.query|db\.statement|"args"/);
    expect(attributes).not.toMatch(/\b(4999|4998|4997)\b/);
  });
});
