// The local runner with an app that enabled HTTP streaming: requests go to the app's own HTTP server, as
// the Functions host does it, with bodies streamed both ways.
import { request } from 'node:http';
import { resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from '../support/app.js';
import { postChunked } from '../support/http.js';

const root = resolve(import.meta.dirname, '..', 'fixtures', 'streamApp');
let runner: Runner;

beforeAll(async () => {
  runner = await startApp(inject('servers'), {
    clean: false,
    runner: { root, maxBodyBytes: 8 * 1024 * 1024 },
  });
});

afterAll(async () => {
  await runner.stop();
});

describe('local runner: HTTP streaming', () => {
  it('passes route parameters, query, headers, status, cookies and a JSON body', async () => {
    const res = await fetch(`${runner.url}/api/items/42?q=x`, { headers: { 'x-test': 'hdr' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.get('set-cookie')).toMatch(/^session=abc; Path=\/; HttpOnly/);
    expect(res.headers.get('x-ms-invocation-id')).toBeNull();
    expect(await res.json()).toEqual({ id: '42', q: 'x', header: 'hdr' });
  });

  it('streams a request body to the function as it arrives', async () => {
    const chunk = Buffer.alloc(256 * 1024, 1);
    const body = await new Promise<string>((ok, fail) => {
      const req = request(`${runner.url}/api/upload`, { method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => ok(text));
      });
      req.on('error', fail);
      for (let i = 0; i < 20; i++) req.write(chunk);
      req.end();
    });
    const parsed = JSON.parse(body) as { bytes: number; chunks: number };
    expect(parsed.bytes).toBe(20 * 256 * 1024);
    expect(parsed.chunks).toBeGreaterThan(1);
  });

  it('streams a response body to the client before the function has finished producing it', async () => {
    const started = Date.now();
    const res = await fetch(`${runner.url}/api/slow`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(new TextDecoder().decode(first.done ? undefined : first.value)).toContain('chunk 0');
    let rest = '';
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      rest += new TextDecoder().decode(next.value);
    }
    expect(rest).toContain('chunk 4');
    // The first chunk came while four more were still to be produced, 150 ms apart.
    expect(firstAt).toBeLessThan(Date.now() - started);
    expect(Date.now() - started - firstAt).toBeGreaterThanOrEqual(450);
  });

  it('cuts the connection when a body fails half-way, so the client cannot take it as whole', async () => {
    const res = await fetch(`${runner.url}/api/broken`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('answers an empty 500 for a function that throws before answering', async () => {
    const res = await fetch(`${runner.url}/api/throws`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
  });

  it('fails the read of a body whose client leaves half-way, so it is never taken as whole', async () => {
    const stateOf = async () =>
      (await (await fetch(`${runner.url}/api/state`)).json()) as { uploads: number[]; failedUploads: number };
    const before = await stateOf();
    const req = request(`${runner.url}/api/upload`, { method: 'POST' });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(64 * 1024, 3));
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    let after = before;
    for (let i = 0; i < 40 && after.failedUploads === before.failedUploads; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await stateOf();
    }
    expect(after.failedUploads).toBe(before.failedUploads + 1);
    expect(after.uploads).toEqual(before.uploads);
  });

  it('refuses a streamed body past the limit with 413', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 2);
    const status = await postChunked(`${runner.url}/api/upload`, chunk, 20);
    expect(status).toBe(413);
  });
});
