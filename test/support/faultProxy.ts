// A TCP proxy between the code under test and a real server (Redis or Azurite) that injects the faults
// production networks have: a server that stops answering with its sockets open, a black hole, slow
// replies, connections cut mid-flight, and refused connections.
import { createServer, type Server, Socket } from 'node:net';

import { freePort } from './servers.js';

/** How the proxy treats traffic. */
export type FaultMode = 'pass' | 'stall' | 'drop' | 'delay';

/** A running proxy; every method takes effect at once, on open and new connections alike. */
export interface FaultProxy {
  /** The loopback port clients connect to. */
  port: number;
  /** Current mode. */
  readonly mode: FaultMode;
  /** Sockets currently open through the proxy. */
  readonly connections: number;
  /** A mark of the connections accepted so far, for `openBefore`. */
  mark(): number;
  /** Connections accepted before `mark` that are still open. */
  openBefore(mark: number): number;
  /** Forwards traffic normally (and delivers what a stall held back). */
  pass(): void;
  /** Keeps every socket open but moves no byte either way, as a paused server does; new connections are accepted and held too. */
  stall(): void;
  /** Accepts and throws away everything in both directions, as a black hole does; nothing is delivered later. */
  drop(): void;
  /** Delivers every chunk after `ms` milliseconds, in order. */
  delay(ms: number): void;
  /** Resets every open connection (the next ones go through as the mode says). */
  cut(): void;
  /**
   * Arms a cut at a chosen point of a conversation: the next command whose bytes contain `marker` goes
   * through; its reply is then delivered ('deliver': the command's effect is known to the client, and the
   * next command from any of its connections is swallowed) or lost ('lose': the effect is unknown), and every connection is
   * reset, new ones refused for `outageMs`. Resolves when the cut happened.
   */
  cutAfter(marker: string, reply: 'deliver' | 'lose', outageMs: number): Promise<void>;
  /** Stops listening, so that new connections are refused; open ones stay as they are. */
  refuse(): Promise<void>;
  /** Listens again on the same port. */
  accept(): Promise<void>;
  /** Closes everything. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** The order it was accepted in. */
  seq: number;
  /** What a stall held back, per direction, delivered in order when it ends. */
  held: Array<{ to: Socket; chunks: Buffer[] }>;
}

interface Trap {
  marker: string;
  reply: 'deliver' | 'lose';
  outageMs: number;
  /** Where the armed conversation is: waiting for the command, for its reply, or for the next command. */
  stage: 'command' | 'reply' | 'next';
  pair: Pair | undefined;
  sprung: () => void;
}

/** Starts a proxy on a free loopback port that forwards to 127.0.0.1:targetPort. */
export async function startFaultProxy(targetPort: number, port?: number): Promise<FaultProxy> {
  const listenPort = port ?? (await freePort());
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  const pairs = new Set<Pair>();
  let accepted = 0;
  let server: Server | undefined;
  let trap: Trap | undefined;

  // Springs the armed trap: resets every connection and refuses new ones for the outage.
  const spring = (t: Trap) => {
    trap = undefined;
    cut();
    void unlisten();
    setTimeout(() => {
      void listen().then(t.sprung);
    }, t.outageMs);
  };

  // Whether the trap swallows this chunk (and springs); false lets it through.
  const trapped = (pair: Pair, fromClient: boolean, chunk: Buffer): boolean => {
    const t = trap;
    if (!t) return false;
    if (fromClient && t.stage === 'command' && chunk.includes(t.marker)) {
      t.stage = 'reply';
      t.pair = pair;
      return false;
    }
    // Once the reply is delivered, the next command from any connection (the app has more than one: the
    // SKU reader's too) finds Redis gone.
    if (fromClient && t.stage === 'next') {
      spring(t);
      return true;
    }
    if (t.pair !== pair) return false;
    if (!fromClient && t.stage === 'reply') {
      if (t.reply === 'lose') {
        spring(t);
        return true;
      }
      t.stage = 'next';
      return false;
    }
    return false;
  };

  // One direction of a pair: honours the mode at the moment each chunk arrives.
  const forward = (pair: Pair, from: Socket, to: Socket) => {
    // When the last delayed chunk of this direction is due: later chunks never overtake it.
    let due = 0;
    const held = { to, chunks: [] as Buffer[] };
    pair.held.push(held);
    from.on('data', (chunk: Buffer) => {
      if (mode === 'drop') return;
      if (mode === 'stall') {
        held.chunks.push(chunk);
        return;
      }
      if (trapped(pair, from === pair.client, chunk)) return;
      const now = Date.now();
      const at = Math.max(mode === 'delay' ? now + delayMs : 0, due);
      if (at <= now) {
        to.write(chunk);
        return;
      }
      due = at;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, at - now);
    });
  };

  // A stall moves no byte either way, as a SIGSTOPped server does; the proxy still reads (and holds) what
  // arrives, so that it sees a side close its socket (a paused socket never reports the peer's FIN).
  const apply = (p: Pair) => {
    if (mode === 'stall') return;
    for (const h of p.held) {
      for (const chunk of h.chunks.splice(0)) if (!h.to.destroyed) h.to.write(chunk);
    }
  };

  const onConnection = (client: Socket) => {
    const upstream = new Socket();
    const pair: Pair = { client, upstream, seq: accepted++, held: [] };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    forward(pair, client, upstream);
    forward(pair, upstream, client);
    apply(pair);
    upstream.connect(targetPort, '127.0.0.1');
  };

  const listen = () =>
    new Promise<void>((ok, fail) => {
      const s = createServer({ pauseOnConnect: false }, onConnection);
      s.once('error', fail);
      s.listen(listenPort, '127.0.0.1', () => {
        server = s;
        ok();
      });
    });

  // close() stops listening at once; its callback would wait for the open connections, which stay.
  const unlisten = () => {
    server?.close();
    server = undefined;
    return Promise.resolve();
  };

  const cut = () => {
    for (const p of [...pairs]) {
      p.client.resetAndDestroy();
      p.upstream.resetAndDestroy();
      pairs.delete(p);
    }
  };

  const setMode = (m: FaultMode) => {
    mode = m;
    for (const p of pairs) apply(p);
  };

  await listen();
  return {
    port: listenPort,
    get mode() {
      return mode;
    },
    get connections() {
      return pairs.size;
    },
    mark: () => accepted,
    openBefore: (mark: number) => [...pairs].filter((p) => p.seq < mark).length,
    pass: () => setMode('pass'),
    stall: () => setMode('stall'),
    drop: () => setMode('drop'),
    delay: (ms: number) => {
      delayMs = ms;
      setMode('delay');
    },
    cut,
    cutAfter: (marker, reply, outageMs) =>
      new Promise<void>((sprung) => {
        trap = { marker, reply, outageMs, stage: 'command', pair: undefined, sprung };
      }),
    refuse: unlisten,
    accept: listen,
    close: async () => {
      await unlisten();
      for (const p of [...pairs]) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
    },
  };
}
