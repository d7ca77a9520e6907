import { afterEach, describe, expect, it } from 'vitest';

import { RedisDeadlineError } from '../../shared/errors.js';
import { Watchdog } from '../../shared/redis/watchdog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dogs: Watchdog[] = [];
function dog(ms: number): Watchdog {
  const d = new Watchdog(ms);
  dogs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dogs.splice(0)) d.stop();
});

describe('Watchdog', () => {
  it('rejects a wait with RedisDeadlineError after the deadline, not before', async () => {
    const d = dog(200);
    const started = Date.now();
    const err: unknown = await d.bound(new Promise(() => undefined), 'connecting').catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(RedisDeadlineError);
    expect(String(err)).toMatch(/connecting took longer than 200 ms/);
    expect(waited).toBeGreaterThanOrEqual(150);
  });

  it('passes a result or an error through unchanged when it comes in time', async () => {
    const d = dog(200);
    expect(await d.bound(Promise.resolve(7), 'x')).toBe(7);
    await expect(d.bound(Promise.reject(new Error('no')), 'x')).rejects.toThrow('no');
  });

  it('calls onStall once when a probe goes unanswered, and never while probes are answered', async () => {
    const d = dog(200);
    let stalls = 0;
    let probes = 0;
    let answer = true;
    d.watch({
      probe: () => {
        probes++;
        return answer ? Promise.resolve() : new Promise(() => undefined);
      },
      onStall: () => {
        stalls++;
      },
    });
    await sleep(500);
    expect(probes).toBeGreaterThan(3);
    expect(stalls).toBe(0);
    answer = false;
    await sleep(600);
    expect(stalls).toBe(1);
  });

  it('does not treat a failing probe (client offline) as a stall', async () => {
    const d = dog(200);
    let stalls = 0;
    d.watch({
      probe: () => Promise.reject(new Error('offline')),
      onStall: () => {
        stalls++;
      },
    });
    await sleep(600);
    expect(stalls).toBe(0);
  });
});
