import { HttpRequest, InvocationContext } from '@azure/functions';

/** A real InvocationContext whose logs are collected instead of printed. */
export function testContext(functionName = 'test'): InvocationContext & { logs: string[] } {
  const logs: string[] = [];
  const context = new InvocationContext({
    functionName,
    invocationId: 'test-invocation',
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return Object.assign(context, { logs });
}

/** A real HttpRequest for calling handlers directly. */
export function testRequest(
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
): HttpRequest {
  return new HttpRequest({
    method,
    url: `http://127.0.0.1:7071${path}`,
    headers: init.headers ?? {},
    ...(init.body !== undefined ? { body: { string: init.body } } : {}),
  });
}
