// The baseline for the runner benchmark: a bare node:http server answering the health JSON.
import { createServer } from 'node:http';

const body = JSON.stringify({
  status: 'ok',
  redis: { mode: 'standalone', tls: false, auth: 'none', latencyMs: 0.1 },
});
createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1');
