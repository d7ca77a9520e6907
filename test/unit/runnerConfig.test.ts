import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { applyLocalSettings, parseTimeSpan, readHostSettings } from '../../local-runner/hostConfig.js';
import { compareRoutes, compileRoute, matchRoute } from '../../local-runner/routes.js';

describe('matchRoute', () => {
  it.each([
    ['carts/{userId}', '/carts/u1', { userId: 'u1' }],
    ['carts/{userId}', '/CARTS/u1/', { userId: 'u1' }],
    ['carts/{userId}', '/carts', undefined],
    ['carts/{userId}/items/{skuId?}', '/carts/u1/items', { userId: 'u1' }],
    ['carts/{userId}/items/{skuId?}', '/carts/u1/items/s%20x', { userId: 'u1', skuId: 's x' }],
    ['n/{id:int}', '/n/-12', { id: '-12' }],
    ['n/{id:int}', '/n/1.5', undefined],
    ['n/{id:int:min(10)}', '/n/9', undefined],
    ['n/{id:range(1,3)}', '/n/3', { id: '3' }],
    ['n/{name:alpha:maxlength(3)}', '/n/abcd', undefined],
    ['n/{g:guid}', '/n/6f1c2d9e-8a1b-4c3d-9e8f-0123456789ab', { g: '6f1c2d9e-8a1b-4c3d-9e8f-0123456789ab' }],
    ['files/{*path}', '/files/a/b/c', { path: 'a/b/c' }],
    ['n/{x}', '/n/%E0%A4%A', undefined],
  ])('%s matches %s as %j', (template, path, params) => {
    expect(matchRoute(compileRoute(template), path)).toEqual(params);
  });

  it('rejects unknown constraints at compile time', () => {
    expect(() => compileRoute('n/{x:nope}')).toThrow(/unsupported route constraint/);
  });

  it('orders literals before constrained, plain, optional and catch-all parameters', () => {
    const routes = ['a/{*rest}', 'a/{x?}', 'a/{x}', 'a/{x:int}', 'a/b'].map(compileRoute);
    expect(routes.sort(compareRoutes).map((r) => r.template)).toEqual([
      'a/b',
      'a/{x:int}',
      'a/{x}',
      'a/{x?}',
      'a/{*rest}',
    ]);
  });
});

describe('host settings', () => {
  it('parses TimeSpans', () => {
    expect(parseTimeSpan('00:00:10')).toBe(10_000);
    expect(parseTimeSpan('01:02:03.5')).toBe(3_723_500);
    expect(parseTimeSpan('1.00:00:00')).toBe(86_400_000);
    expect(() => parseTimeSpan('10s')).toThrow(/TimeSpan/);
  });

  it("applies the host's defaults where host.json is silent", () => {
    const dir = mkdtempSync(join(tmpdir(), 'host-'));
    writeFileSync(join(dir, 'host.json'), '{"version":"2.0"}');
    expect(readHostSettings(dir)).toEqual({
      routePrefix: 'api',
      queues: {
        batchSize: 16,
        newBatchThreshold: 8,
        maxDequeueCount: 5,
        visibilityTimeoutMs: 0,
        maxPollingIntervalMs: 60_000,
        messageEncoding: 'base64',
      },
    });
  });

  it("reads this project's host.json", () => {
    const s = readHostSettings(join(import.meta.dirname, '..', '..'));
    expect(s.routePrefix).toBe('api');
    expect(s.queues.messageEncoding).toBe('base64');
  });

  it('lets the environment win over local.settings.json Values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'settings-'));
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ Values: { A: 'file', B: 'file' } }));
    const env: NodeJS.ProcessEnv = { A: 'env' };
    expect(applyLocalSettings(dir, env)).toEqual(['B']);
    expect(env).toEqual({ A: 'env', B: 'file' });
  });
});

describe('biglist loader settings', () => {
  it("match host.json: the loader's last-delivery check uses the host's maxDequeueCount", async () => {
    const { MAX_DEQUEUE_COUNT } = await import('../../shared/biglist/loader.js');
    expect(readHostSettings(join(import.meta.dirname, '..', '..')).queues.maxDequeueCount).toBe(
      MAX_DEQUEUE_COUNT,
    );
  });
});
