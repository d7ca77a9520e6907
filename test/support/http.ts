// The tests' HTTP client for the app served by the local runner.
import { request } from 'node:http';

/** A response with its body parsed as JSON when it is JSON, and how long it took to start. */
export interface Res {
  status: number;
  headers: Headers;
  body: any;
  ms: number;
}

/** Calls `${base}/api${path}`; an object body is sent as JSON. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Res> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const started = Date.now();
  const res = await fetch(`${base}/api${path}`, init);
  const ms = Date.now() - started;
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: res.status, headers: res.headers, body: parsed, ms };
}

/** Sends a request until it gets an answer that is not a 503, as a client that retries on 503 does. */
export async function untilAnswered(send: () => Promise<Res>): Promise<Res> {
  for (let i = 0; i < 40; i++) {
    const res = await send();
    if (res.status !== 503) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('still 503 after 40 tries');
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * POSTs `count` copies of `chunk` as a chunked body, honouring back-pressure, and resolves with the status
 * of the answer (which may come before the body is all sent, as a 413 does).
 */
export function postChunked(url: string, chunk: Buffer, count: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'POST' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < count) {
        sent++;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}
