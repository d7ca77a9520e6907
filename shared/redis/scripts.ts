// The script runner and the parsers of script replies. Each resource's Lua lives beside its store
// (shared/carts/scripts.ts, shared/users/scripts.ts, shared/biglist/scripts.ts).
import { createHash } from 'node:crypto';

import { ErrorReply } from 'redis';

/** Reads a script's raw reply into the type it promises; throws ScriptReplyError when it does not fit. */
export type Reply<T> = (raw: unknown) => T;

/** A Lua script with its SHA1 and the parser of its reply, run by EVALSHA with an EVAL fallback. */
export interface Script<T> {
  source: string;
  sha1: string;
  reply: Reply<T>;
}

/** A script answered something it never answers: a bug between the Lua and its caller, not a user error. */
export class ScriptReplyError extends Error {
  override name = 'ScriptReplyError';
}

/** A script from its Lua source and the parser of its reply. */
export function script<T>(source: string, reply: Reply<T>): Script<T> {
  return { source, sha1: createHash('sha1').update(source).digest('hex'), reply };
}

/** What running a script needs of a client: any node-redis client or cluster, whatever its type mapping. */
export interface ScriptClient {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(source: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Runs a script on the node owning its keys (EVAL when the server does not know it yet); returns its parsed reply. */
export async function runScript<T>(
  redis: ScriptClient,
  s: Script<T>,
  keys: string[],
  args: string[],
): Promise<T> {
  let raw: unknown;
  try {
    raw = await redis.evalSha(s.sha1, { keys, arguments: args });
  } catch (err) {
    if (!(err instanceof ErrorReply && err.message.startsWith('NOSCRIPT'))) throw err;
    raw = await redis.eval(s.source, { keys, arguments: args });
  }
  return s.reply(raw);
}

/** The error for a reply a script never answers. */
export const bad = (what: string, raw: unknown) =>
  new ScriptReplyError(`expected ${what}, the script answered ${JSON.stringify(raw)}`);

/** An integer reply. */
export const integer: Reply<number> = (raw) => {
  if (typeof raw !== 'number') throw bad('an integer', raw);
  return raw;
};

/** A string reply ('' for a nil). */
export const text: Reply<string> = (raw) => {
  if (raw === null) return '';
  if (typeof raw !== 'string') throw bad('a string', raw);
  return raw;
};

/** One of the given strings. */
export function oneOf<S extends string>(...values: S[]): Reply<S> {
  return (raw) => {
    if (typeof raw !== 'string' || !(values as string[]).includes(raw)) throw bad(values.join('|'), raw);
    return raw as S;
  };
}

/** An array reply whose first element is a string tag. */
export function tagged(raw: unknown): [string, unknown[]] {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw bad('a tagged array', raw);
  return [raw[0], raw.slice(1)];
}

/**
 * A hash as HGETALL answers it (a flat list, a Map, or a plain object), as an object without a prototype:
 * a field named `__proto__` or `constructor` is a field like any other.
 */
export function fields(raw: unknown): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
  } else if (raw instanceof Map) {
    for (const [k, v] of raw as Map<unknown, unknown>) out[String(k)] = String(v);
  } else if (raw !== null && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out[k] = String(v);
  } else {
    throw bad('a hash', raw);
  }
  return out;
}
