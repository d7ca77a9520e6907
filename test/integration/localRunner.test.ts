import { connect } from 'node:net';
import { resolve } from 'node:path';

import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { Runner } from '../../local-runner/index.js';
import { startApp } from '../support/app.js';
import { startFaultProxy } from '../support/faultProxy.js';
import { postChunked, until } from '../support/http.js';
import { azuriteConnectionString, emptyQueues } from '../support/servers.js';

const servers = inject('servers');
const root = resolve(import.meta.dirname, '..', 'fixtures', 'runnerApp');
let runner: Runner;
let queues: QueueServiceClient;
const logs: string[] = [];

interface Delivery {
  message: unknown;
  id: string;
  dequeueCount: number;
  insertionTime: string;
  popReceipt: string;
}
interface State {
  deliveries: Delivery[];
  attempts: { fail: number };
  hooks: string[];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const state = async (): Promise<State> => (await (await fetch(`${runner.url}/api/state`)).json()) as State;

async function queueCount(name: string): Promise<number> {
  const q = queues.getQueueClient(name);
  await q.createIfNotExists();
  return (await q.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.length;
}

beforeAll(async () => {
  queues = await emptyQueues(servers.azurite.connectionString, [
    'runner-work',
    'runner-work-poison',
    'runner-fail',
    'runner-fail-poison',
  ]);
  runner = await startApp(servers, {
    key: 'test-key',
    clean: false,
    runner: { root, log: (level, line) => logs.push(`${level}: ${line}`) },
  });
});

afterAll(async () => {
  await runner.stop();
});

describe('local runner: HTTP', () => {
  it('registers every function through @azure/functions and runs appStart hooks', async () => {
    expect(runner.functions).toEqual(expect.arrayContaining(['echo', 'echoName', 'work', 'fail', 'enqueue']));
    expect((await state()).hooks).toEqual(['appStart:object']);
  });

  it('matches templates with constraints and optional params, and passes query, headers and body', async () => {
    const res = await fetch(`${runner.url}/api/echo/42/more?q=1&q=2`, {
      method: 'PUT',
      headers: { 'x-test': 'hdr', 'content-type': 'text/plain' },
      body: 'hello body',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.get('set-cookie')).toMatch(/^session=abc; Path=\/; HttpOnly/);
    expect(await res.json()).toEqual({
      fn: 'echo',
      id: '42',
      tail: 'more',
      q: ['1', '2'],
      header: 'hdr',
      method: 'PUT',
      url: expect.stringMatching(/\/api\/echo\/42\/more\?q=1&q=2$/),
      text: 'hello body',
    });
    const noTail = (await (await fetch(`${runner.url}/API/Echo/7`)).json()) as { tail: unknown; id: string };
    expect(noTail).toMatchObject({ id: '7', tail: null });
  });

  it('routes a value that fails a constraint to the route whose constraint it meets', async () => {
    const res = await fetch(`${runner.url}/api/echo/abc`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello abc');
    expect((await fetch(`${runner.url}/api/echo/abc1`)).status).toBe(404);
  });

  it('prefers a literal segment over a parameter', async () => {
    expect(await (await fetch(`${runner.url}/api/items/special`)).text()).toBe('literal');
    expect(await (await fetch(`${runner.url}/api/items/other`)).text()).toBe('param other');
  });

  it('round-trips binary bodies', async () => {
    const res = await fetch(`${runner.url}/api/bytes`, {
      method: 'POST',
      body: new Uint8Array([0, 1, 2, 255]),
    });
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([255, 2, 1, 0]);
  });

  it('answers 404 for unknown routes and paths outside the prefix, 405 with Allow for wrong methods', async () => {
    expect((await fetch(`${runner.url}/api/nothing`)).status).toBe(404);
    expect((await fetch(`${runner.url}/state`)).status).toBe(404);
    const res = await fetch(`${runner.url}/api/bytes`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('answers a throwing function with an empty 500, as the host does', async () => {
    const res = await fetch(`${runner.url}/api/boom`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
  });

  it('refuses a 100 MiB chunked body with 413 while it streams in, without holding it in memory', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 120);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const status = await postChunked(`${runner.url}/api/bytes`, chunk, 100);
    clearInterval(sampler);
    expect(status).toBe(413);
    expect((peak - before) / 2 ** 20).toBeLessThan(64);
    // A declared length past the limit is refused before a byte of the body is read.
    const declared = await fetch(`${runner.url}/api/bytes`, {
      method: 'POST',
      body: new Uint8Array(5 * 1024 * 1024),
    });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ status: 413, code: 'body_too_large' });
  });

  it('requires the function key on function-level routes when one is configured', async () => {
    expect((await fetch(`${runner.url}/api/secret`)).status).toBe(401);
    expect((await fetch(`${runner.url}/api/secret?code=wrong`)).status).toBe(401);
    expect((await fetch(`${runner.url}/api/secret?code=test-key`)).status).toBe(200);
    expect(
      (await fetch(`${runner.url}/api/secret`, { headers: { 'x-functions-key': 'test-key' } })).status,
    ).toBe(200);
    // A key of another length, or the right one with a byte more, is refused the same way.
    expect((await fetch(`${runner.url}/api/secret?code=test-key-`)).status).toBe(401);
    expect((await fetch(`${runner.url}/api/secret?code=x`)).status).toBe(401);
  });

  it.each([['['], [''], ['a%b']])(
    'answers 400, not 500, to a request with the Host header %j',
    async (host) => {
      for (const path of ['/api/echo/42', '/api/secret', '/api/nowhere']) {
        const head = await rawRequest(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      }
    },
  );
});

/** Sends raw bytes to the runner and resolves with what it answered (a client would not send a bad Host). */
function rawRequest(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(runner.url).port), '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('local runner: storage queues', () => {
  it('delivers a message exactly once, decoded, with its trigger metadata, then deletes it', async () => {
    const sent = await queues.getQueueClient('runner-work').sendMessage(b64(JSON.stringify({ n: 1 })));
    const d = await until('delivery', async () =>
      (await state()).deliveries.find((x) => x.id === sent.messageId),
    );
    expect(d).toMatchObject({ message: { n: 1 }, dequeueCount: 1 });
    expect(Date.parse(d.insertionTime)).not.toBeNaN();
    expect(d.popReceipt).toEqual(expect.any(String));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await state()).deliveries.filter((x) => x.id === sent.messageId)).toHaveLength(1);
    expect(await queueCount('runner-work')).toBe(0);
  });

  it('sends output binding arrays as one message each, which the trigger then receives', async () => {
    const res = await fetch(`${runner.url}/api/enqueue`, {
      method: 'POST',
      body: JSON.stringify(['out-a', { k: 'out-b' }]),
    });
    expect(res.status).toBe(202);
    const got = await until('both outputs', async () => {
      const msgs = (await state()).deliveries.map((x) => x.message);
      return msgs.includes('out-a') && msgs.some((m) => JSON.stringify(m) === '{"k":"out-b"}')
        ? msgs
        : undefined;
    });
    expect(got).toEqual(expect.arrayContaining(['out-a', { k: 'out-b' }]));
  });

  it('retries a failing message maxDequeueCount times, then moves it to <queue>-poison', async () => {
    await queues.getQueueClient('runner-fail').sendMessage(b64('doomed'));
    await until('poison message', async () =>
      (await queueCount('runner-fail-poison')) === 1 ? true : undefined,
    );
    expect((await state()).attempts.fail).toBe(3);
    const [poisoned] = (await queues.getQueueClient('runner-fail-poison').peekMessages()).peekedMessageItems;
    expect(Buffer.from(poisoned?.messageText ?? '', 'base64').toString()).toBe('doomed');
    expect(await queueCount('runner-fail')).toBe(0);
  });

  it('moves a message that is not valid base64 straight to poison without invoking the function', async () => {
    const before = (await state()).deliveries.length;
    await queues.getQueueClient('runner-work').sendMessage('not base64!');
    await until('poisoned bad message', async () =>
      (await queueCount('runner-work-poison')) === 1 ? true : undefined,
    );
    const [poisoned] = (await queues.getQueueClient('runner-work-poison').peekMessages()).peekedMessageItems;
    expect(poisoned?.messageText).toBe('not base64!');
    expect((await state()).deliveries.length).toBe(before);
  });
});

describe('local runner: storage faults', () => {
  it('logs every queue invocation with its function, message id, dequeue count, duration and outcome', async () => {
    const sent = await queues.getQueueClient('runner-work').sendMessage(b64(JSON.stringify({ n: 'logged' })));
    const line = await until('log line', () =>
      Promise.resolve(logs.find((l) => l.includes(sent.messageId) && l.includes('succeeded'))),
    );
    expect(line).toMatch(
      new RegExp(
        `^information: work: message ${sent.messageId} \\(dequeue count 1\\) succeeded \\(\\d+ ms\\)$`,
      ),
    );
    await queues.getQueueClient('runner-fail').sendMessage(b64('logged-failure'));
    await until('failure log line', () =>
      Promise.resolve(
        logs.find((l) => /^information: fail: message \S+ \(dequeue count 1\) failed \(\d+ ms\)$/.test(l)),
      ),
    );
  });

  it('creates its queue again when it disappears, and goes on delivering', async () => {
    await queues.getQueueClient('runner-work').delete();
    await until('queue re-created', async () =>
      (await queues.getQueueClient('runner-work').exists()) ? true : undefined,
    );
    const sent = await queues.getQueueClient('runner-work').sendMessage(b64(JSON.stringify({ n: 'again' })));
    await until('delivery after re-creation', async () =>
      (await state()).deliveries.find((x) => x.id === sent.messageId),
    );
  });

  it('keeps retrying when storage is down at start-up, and delivers once it is back', async () => {
    // This runner reaches Azurite through a proxy that refuses connections; the first runner stops, so
    // that only this one can take the message.
    await runner.stop();
    const proxy = await startFaultProxy(servers.azurite.queuePort);
    await proxy.refuse();
    const lines: string[] = [];
    const second = await startApp(servers, {
      key: 'test-key',
      clean: false,
      storage: azuriteConnectionString(servers.azurite.blobPort, proxy.port),
      runner: { root, log: (level, line) => lines.push(`${level}: ${line}`) },
    });
    try {
      await until('a failed poll', () => Promise.resolve(lines.find((l) => l.includes('polling failed'))));
      expect(lines.some((l) => l.includes('trigger disabled'))).toBe(false);
      const sent = await queues.getQueueClient('runner-work').sendMessage(b64(JSON.stringify({ n: 'late' })));
      await new Promise((r) => setTimeout(r, 1000));
      await proxy.accept();
      const got = await until(
        'delivery after storage came back',
        async () =>
          ((await (await fetch(`${second.url}/api/state`)).json()) as State).deliveries.find(
            (x) => x.id === sent.messageId,
          ),
        30_000,
      );
      expect(got.message).toEqual({ n: 'late' });
    } finally {
      await second.stop();
      await proxy.close();
    }
  });
});
