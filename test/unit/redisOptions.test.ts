import { describe, expect, it } from 'vitest';

import { parseConfig } from '../../shared/config.js';
import { mapNodeAddress, reconnectDelay } from '../../shared/redis/connect.js';

describe('mapNodeAddress', () => {
  it('maps IP addresses advertised by shards back to the configured TLS host name', () => {
    const map = mapNodeAddress(
      parseConfig({ REDIS_HOST: 'cart.westeurope.redis.azure.net', REDIS_CLUSTER: 'true' }).redis,
    );
    expect(map?.('10.0.0.4:8501')).toEqual({ host: 'cart.westeurope.redis.azure.net', port: 8501 });
    expect(map?.('[fd00::4]:8502')).toEqual({ host: 'cart.westeurope.redis.azure.net', port: 8502 });
    expect(map?.('node-2.internal:8503')).toBeUndefined();
  });

  it('leaves plain-text clusters alone', () => {
    expect(mapNodeAddress(parseConfig({ REDIS_CLUSTER: 'true' }).redis)).toBeUndefined();
  });
});

describe('reconnectDelay', () => {
  it('grows with retries, stays within 3 s and is jittered', () => {
    const samples = Array.from({ length: 200 }, () => reconnectDelay(50));
    expect(Math.max(...samples)).toBeLessThanOrEqual(3000);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(1500);
    expect(new Set(samples).size).toBeGreaterThan(10);
    expect(reconnectDelay(0)).toBeLessThanOrEqual(100);
  });
});
