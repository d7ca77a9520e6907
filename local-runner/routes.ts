// Route templates as the Functions host reads them (ASP.NET Core routing syntax):
// literal segments match case-insensitively, `{name}` takes one segment, `{name?}` may be absent at the
// end, `{*name}` takes the rest, and `{name:constraint}` restricts the value (int, min, range, alpha,
// maxlength, guid).

type Constraint = (value: string) => boolean;

interface Segment {
  literal?: string;
  param?: string;
  optional?: boolean;
  catchAll?: boolean;
  constraints: Constraint[];
}

/** A compiled route template that can match a request path. */
export interface CompiledRoute {
  template: string;
  segments: Segment[];
  /** Higher sorts first: literals before constrained parameters before plain ones before catch-alls. */
  precedence: number[];
}

const INT = /^-?\d+$/;

// The host's constraints this runner knows (the app's routes use none; these are tested): any other is
// refused when the app registers its routes, never ignored.
function constraint(spec: string): Constraint {
  const m = /^(\w+)(?:\((.*)\))?$/s.exec(spec);
  if (!m) throw new Error(`unsupported route constraint "${spec}"`);
  const [a = 0, b = 0] = (m[2] ?? '').split(',').map((s) => Number(s.trim()));
  switch ((m[1] ?? '').toLowerCase()) {
    case 'int':
      return (v) => INT.test(v) && Math.abs(Number(v)) <= 2 ** 31;
    case 'min':
      return (v) => INT.test(v) && Number(v) >= a;
    case 'range':
      return (v) => INT.test(v) && Number(v) >= a && Number(v) <= b;
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'maxlength':
      return (v) => v.length <= a;
    case 'guid':
      return (v) => /^[{(]?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}[)}]?$/i.test(v);
    default:
      throw new Error(`unsupported route constraint "${spec}"`);
  }
}

/** Compiles a route template such as `carts/{userId}/items/{skuId?}`. */
export function compileRoute(template: string): CompiledRoute {
  const parts = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter(Boolean);
  const segments: Segment[] = parts.map((part) => {
    const m = /^\{(\*{0,2})([A-Za-z_][\w]*)((?::[^:}]+(?:\([^)]*\))?)*)(\?)?\}$/.exec(part);
    if (!m) {
      if (part.includes('{')) throw new Error(`unsupported route segment "${part}" in "${template}"`);
      return { literal: part.toLowerCase(), constraints: [] };
    }
    const specs = (m[3] ?? '').split(':').filter(Boolean);
    return {
      param: m[2] ?? '',
      catchAll: (m[1] ?? '').length > 0,
      optional: m[4] === '?',
      constraints: specs.map(constraint),
    };
  });
  const precedence = segments.map((s) => {
    if (s.literal !== undefined) return 5;
    if (s.catchAll) return 1;
    if (s.optional) return 2;
    return s.constraints.length > 0 ? 4 : 3;
  });
  return { template, segments, precedence };
}

/** Orders routes as the host does: the most specific template wins. */
export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const d = (b.precedence[i] ?? 0) - (a.precedence[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A path's segments, decoded; undefined when one is not valid percent-encoding (no route matches it). */
export function pathSegments(path: string): string[] | undefined {
  try {
    return path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

/** Matches a path (below the route prefix) and returns its parameters, or undefined. */
export function matchRoute(route: CompiledRoute, path: string): Record<string, string> | undefined {
  const parts = pathSegments(path);
  return parts && matchSegments(route, parts);
}

/** Matches decoded path segments (split once per request, whatever the number of routes). */
export function matchSegments(route: CompiledRoute, parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let i = 0;
  for (const seg of route.segments) {
    if (seg.catchAll) {
      const rest = parts.slice(i).join('/');
      if (rest) params[seg.param ?? ''] = rest;
      i = parts.length;
      break;
    }
    const value = parts[i];
    if (value === undefined) {
      if (seg.optional) continue;
      return undefined;
    }
    if (seg.literal !== undefined) {
      if (value.toLowerCase() !== seg.literal) return undefined;
    } else {
      if (!seg.constraints.every((c) => c(value))) return undefined;
      params[seg.param ?? ''] = value;
    }
    i++;
  }
  return i === parts.length ? params : undefined;
}
