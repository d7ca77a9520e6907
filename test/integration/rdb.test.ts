// The serialized list format against a real Redis: byte for byte against DUMP, and through RESTORE.
import { createClient, RESP_TYPES } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { descendingListPayload } from '../../shared/redis/rdb/listPayload.js';
import { type ListValue, readListPayload } from '../support/rdbReader.js';

const servers = inject('servers');
const client = createClient({ socket: { host: '127.0.0.1', port: servers.standalone.port } }).withTypeMapping(
  {
    [RESP_TYPES.BLOB_STRING]: Buffer,
  },
);

beforeAll(async () => {
  await client.connect();
});
afterAll(async () => {
  await client.configSet('rdbcompression', 'yes');
  client.destroy();
});

/** Builds head..tail in Redis the plain way: RPUSH in batches, head first. */
async function built(key: string, head: number, tail: number): Promise<void> {
  await client.del(key);
  for (let v = head; v >= tail; v -= 10_000) {
    const batch: string[] = [];
    for (let x = v; x >= Math.max(tail, v - 9_999); x--) batch.push(String(x));
    await client.rPush(key, batch);
  }
}

describe('list payloads against redis-server', () => {
  it.each([
    [3, 1],
    [127, 1],
    [5000, 1],
    [70_000, 1],
    [1_000_000, 900_001],
    [1_000_000_000, 999_950_001],
  ])('equals, byte for byte, what DUMP returns for %i..%i built by RPUSH', async (head, tail) => {
    // Off: with it on, DUMP LZF-compresses nodes, which is the same list in another spelling.
    await client.configSet('rdbcompression', 'no');
    await built('rdb:built', head, tail);
    const dumped = await client.dump('rdb:built');
    expect(Buffer.compare(dumped, descendingListPayload(head, tail))).toBe(0);
  });

  it('restores payloads of 1..N values with every value in place and in order', async () => {
    for (const n of [1, 2, 127, 128, 1_000, 4_097, 65_536, 250_000]) {
      await client.restore('rdb:restored', 60_000, descendingListPayload(n, 1), { REPLACE: true });
      expect(await client.lLen('rdb:restored')).toBe(n);
      const all = (await client.lRange('rdb:restored', 0, -1)).map((b) => Number(b.toString()));
      let bad = -1;
      for (let i = 0; i < n; i++) {
        if (all[i] !== n - i) {
          bad = i;
          break;
        }
      }
      expect([n, bad]).toEqual([n, -1]);
    }
  });

  it('reads what DUMP returns with rdbcompression on (LZF-compressed nodes)', async () => {
    await client.configSet('rdbcompression', 'yes');
    await built('rdb:compressed', 300_000, 1);
    const dumped = await client.dump('rdb:compressed');
    expect(dumped.length).toBeLessThan(descendingListPayload(300_000, 1).length);
    const out: ListValue[] = [];
    readListPayload(dumped, (v) => out.push(v));
    expect(out.length).toBe(300_000);
    expect(out.every((v, i) => v === 300_000 - i)).toBe(true);
  });

  it('is refused by RESTORE when a byte changes (the checksum is checked)', async () => {
    const payload = descendingListPayload(1000, 1);
    payload[20] = (payload[20] ?? 0) ^ 0xff;
    await expect(client.restore('rdb:bad', 0, payload, { REPLACE: true })).rejects.toThrow(/checksum/);
  });
});
