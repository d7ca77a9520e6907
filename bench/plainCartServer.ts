// The baseline of `npm run bench:hop`: GET /api/carts/{userId} written the obvious way, as someone would
// without this project: node:http, one node-redis client, the user and cart read at once, then every SKU,
// totals in cents. No validation beyond the id pattern, no ETag, no generations, no telemetry.
import { createServer } from 'node:http';

import { createClient } from 'redis';

const redis = await createClient({ url: process.env.REDIS_URL }).connect();
const CART = /^\/api\/carts\/([A-Za-z0-9_-]{1,64})$/;
const cents = (price: string) => Math.round(Number(price) * 100);

createServer((req, res) => {
  const userId = req.method === 'GET' ? CART.exec(req.url ?? '')?.[1] : undefined;
  if (!userId) {
    res.writeHead(404).end();
    return;
  }
  void (async () => {
    try {
      const [exists, lines] = await Promise.all([
        redis.exists(`user:${userId}`),
        redis.hGetAll(`cart:${userId}`),
      ]);
      if (!exists) {
        res.writeHead(404).end();
        return;
      }
      const ids = Object.keys(lines).sort();
      const skus = await Promise.all(ids.map((id) => redis.hmGet(`sku:${id}`, ['name', 'price'])));
      let total = 0;
      let totalQuantity = 0;
      const items = ids.map((skuId, i) => {
        const [name, price] = skus[i] ?? [];
        const quantity = Number(lines[skuId]);
        const lineTotal = price ? cents(price) * quantity : 0;
        total += lineTotal;
        totalQuantity += quantity;
        return { skuId, name, unitPrice: price, quantity, lineTotal: (lineTotal / 100).toFixed(2) };
      });
      const body = JSON.stringify({ userId, items, totalQuantity, total: (total / 100).toFixed(2) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch {
      res.writeHead(503, { 'retry-after': '5' }).end();
    }
  })();
}).listen(Number(process.env.PORT), '127.0.0.1');

// Exit on SIGTERM as a process does after cleaning up, so that `--cpu-prof` gets to write its profile.
process.once('SIGTERM', () => {
  redis.destroy();
  process.exit(0);
});
