// Reading a request: validation by target (path, query, header, body), the body within its size limit,
// and the If-Match precondition.
import type { HttpRequest } from '@azure/functions';
import type { z } from 'zod';

import type { IfMatch } from '../carts/schema.js';
import { getConfig } from '../config.js';
import { errors, type FieldError } from '../errors.js';

function fieldErrors(where: string, error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const base = [where, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ field: base ? `${base}.${k}` : k, message: 'is not a known field' }));
    }
    return [{ field: base || where, message: issue.message }];
  });
}

/** Validates a value against a schema, or throws validation_failed listing every failing field. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'path' | 'query' | 'body' | 'header',
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw errors.validationFailed(fieldErrors(where, result.error));
  return result.data;
}

/** Query parameters (first value of each), without the function key (`code`), which is the host's. */
export function queryOf(request: HttpRequest): Record<string, string> {
  const query = Object.fromEntries(request.query.entries());
  // The portal hands out keys as ?code=...; the host checks it, and it must not fail strict validation.
  delete query.code;
  return query;
}

/** The raw body text, within MAX_BODY_BYTES and declared as JSON when a type is given. */
export async function readBodyText(request: HttpRequest): Promise<string> {
  const max = getConfig().maxBodyBytes;
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > max) throw errors.bodyTooLarge(max);
  const type = request.headers.get('content-type');
  if (type && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) throw errors.unsupportedMediaType();
  // JSON is UTF-8 (RFC 8259); a body declared in another charset would be stored mangled.
  const charset = type ? /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1] : undefined;
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) throw errors.unsupportedMediaType();
  // Read as a stream and counted as it arrives: a body past the limit is refused without being held whole.
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader: ReadableStreamDefaultReader<Uint8Array> = request.body.getReader();
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      size += next.value.length;
      if (size > max) {
        await reader.cancel();
        throw errors.bodyTooLarge(max);
      }
      chunks.push(next.value);
    }
  }
  try {
    return UTF8.decode(Buffer.concat(chunks));
  } catch {
    throw errors.invalidJson('The body is not valid UTF-8.');
  }
}

// In `u` mode a surrogate pair is one code point, so \p{Cs} matches only a surrogate standing alone.
const LONE_SURROGATE = /\p{Cs}/u;
// Fatal: bytes that are not UTF-8 are refused rather than quietly replaced by U+FFFD.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The path of the first string (value or member name) in a parsed body that is not well-formed Unicode:
 * a lone surrogate, which JSON's \u escapes allow and which Redis would store as U+FFFD. Iterative, so a
 * deeply nested body cannot exhaust the stack.
 */
function illFormedString(value: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[value, '']];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [v, path] = next;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, path ? `${path}.${i}` : String(i)]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        const at = path ? `${path}.${k}` : k;
        if (LONE_SURROGATE.test(k)) return at;
        stack.push([item, at]);
      }
    }
  }
  return undefined;
}

/** Parses a JSON body text against a schema; an empty body is `{}` when `optional`, else body_required. */
export function parseJsonBody<S extends z.ZodType>(text: string, schema: S, optional = false): z.output<S> {
  if (text.trim() === '') {
    if (!optional) throw errors.bodyRequired();
    return parseWith(schema, {}, 'body');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw errors.invalidJson();
  }
  const bad = illFormedString(value);
  if (bad !== undefined) {
    throw errors.validationFailed([
      { field: bad ? `body.${bad}` : 'body', message: 'contains a lone surrogate (not valid Unicode)' },
    ]);
  }
  return parseWith(schema, value, 'body');
}

// One entity-tag of RFC 9110 section 8.8.3: optional W/, then a quoted run of etagc.
const ENTITY_TAG = /(W\/)?"([\x21\x23-\x7E\x80-\xFF]*)"/y;

const malformedIfMatch = () =>
  errors.validationFailed([
    { field: 'header.If-Match', message: 'is not "*" or a list of quoted entity tags' },
  ]);

/**
 * Parses If-Match per RFC 9110 section 13.1.1: a malformed header is 400; weak tags are dropped, because
 * If-Match compares strongly and a weak tag never matches; any well-formed tag that is not current fails
 * the precondition later (412).
 */
export function parseIfMatch(request: HttpRequest): IfMatch {
  const raw = request.headers.get('if-match');
  if (raw === null || raw.trim() === '') return undefined;
  if (raw.trim() === '*') return '*';
  const strong: string[] = [];
  let tags = 0;
  let afterTag = false;
  for (let pos = 0; pos < raw.length;) {
    const c = raw[pos];
    if (c === ' ' || c === '\t') {
      pos++;
    } else if (c === ',') {
      pos++;
      afterTag = false;
    } else {
      ENTITY_TAG.lastIndex = pos;
      const m = afterTag ? null : ENTITY_TAG.exec(raw);
      if (!m) throw malformedIfMatch();
      if (m[1] === undefined) strong.push(m[2] ?? '');
      tags++;
      afterTag = true;
      pos = ENTITY_TAG.lastIndex;
    }
  }
  if (tags === 0) throw malformedIfMatch();
  return strong;
}
