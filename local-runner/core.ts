// The `@azure/functions-core` module that the Functions Node.js worker injects into every app.
//
// Why implement it instead of calling the handlers directly: with this module present, `@azure/functions`
// hands us each function's metadata (`registerFunction`) and its own programming model
// (`setProgrammingModel`), and its InvocationModel converts RPC requests into `HttpRequest` /
// `InvocationContext` and results back into RPC responses. The runner therefore runs the very conversion
// code that runs in Azure; a mock of `app.http` would test our guesses about it instead.
// Types follow `types-core/index.d.ts` of azure-functions-nodejs-library; only what we use is declared.
import { randomUUID } from 'node:crypto';
import Module from 'node:module';

/** Binding info as registered by `@azure/functions` (trigger options are spread into it). */
export interface BindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [option: string]: unknown;
}

/** A registered function's metadata. */
export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, BindingInfo>;
}

/** RpcTypedData: one value crossing the host/worker boundary. */
export interface TypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: HttpData | null;
  int?: number | null;
  double?: number | null;
  collectionString?: { string?: string[] | null } | null;
  collectionBytes?: { bytes?: Uint8Array[] | null } | null;
}

/** RpcHttpData: an HTTP request or response. */
export interface HttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: TypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  cookies?: HttpCookie[] | null;
}

/** RpcHttpCookie. */
export interface HttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: 'none' | 'lax' | 'strict' | 'explicitNone' | null;
  maxAge?: { value?: number | null } | null;
}

/** RpcInvocationRequest. */
export interface InvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: Array<{ name: string; data: TypedData }>;
  triggerMetadata: Record<string, TypedData>;
}

/** RpcInvocationResponse. */
export interface InvocationResponse {
  invocationId?: string | null;
  outputData?: Array<{ name?: string | null; data?: TypedData | null }> | null;
  returnValue?: TypedData | null;
}

type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
type FunctionCallback = (...args: unknown[]) => unknown;
type HookCallback = (context: Record<string, unknown>) => unknown;

interface CoreInvocationContext {
  invocationId: string;
  request: InvocationRequest;
  metadata: FunctionMetadata;
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: LogLevel, category: string, message: string): void;
}

interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<InvocationResponse>;
}

interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(ctx: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(
    capabilities: Record<string, string>,
  ): Record<string, string> | Promise<Record<string, string>>;
}

/** A function the app registered, with its callback. */
export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

/** Where runner and function logs go. */
export type LogSink = (level: LogLevel, message: string) => void;

class Disposable {
  static from(...items: Array<{ dispose: () => unknown }>): Disposable {
    return new Disposable(() => {
      for (const i of items) i.dispose();
    });
  }
  #dispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#dispose = callOnDispose;
  }
  dispose(): unknown {
    const d = this.#dispose;
    this.#dispose = undefined;
    return d?.();
  }
}

const functions = new Map<string, RegisteredFunction>();
const hooks = new Map<string, Set<HookCallback>>();
const appHookData: Record<string, unknown> = {};
let programmingModel: ProgrammingModel | undefined;
let sink: LogSink = (level, message) => {
  (level === 'error' || level === 'critical' ? console.error : console.log)(`[${level}] ${message}`);
};

const coreApi = {
  version: '3.0.0-local-runner',
  hostVersion: '4.0.0-local-runner',
  Disposable,
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (functions.has(metadata.name))
      throw new Error(`A function named "${metadata.name}" is already registered`);
    functions.set(metadata.name, { metadata, callback });
    return new Disposable(() => functions.delete(metadata.name));
  },
  registerHook(name: string, callback: HookCallback): Disposable {
    const set = hooks.get(name) ?? new Set<HookCallback>();
    hooks.set(name, set);
    set.add(callback);
    return new Disposable(() => set.delete(callback));
  },
  setProgrammingModel(model: ProgrammingModel): void {
    programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return programmingModel;
  },
  log(level: LogLevel, category: string, message: string): void {
    sink(level, message);
    runLogHooks({ level, category, message, invocationContext: undefined });
  },
};

/** Runs the app's log hooks as the worker does: synchronously, for every log line; a failing hook is skipped. */
function runLogHooks(entry: {
  level: LogLevel;
  category: string;
  message: string;
  invocationContext: unknown;
}) {
  for (const hook of hooks.get('log') ?? []) {
    try {
      void hook({ ...entry, hookData: {}, appHookData });
    } catch (err) {
      sink('warning', `a log hook failed: ${String(err)}`);
    }
  }
}

let installed = false;

/** Makes `require('@azure/functions-core')` return this module, as the worker does; idempotent. */
export function installCoreModule(logSink?: LogSink): void {
  if (logSink) sink = logSink;
  if (installed) return;
  installed = true;
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = mod._load;
  mod._load = function load(this: unknown, request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? coreApi : original.call(this, request, ...rest);
  };
}

/** Every function the app has registered so far. */
export function registeredFunctions(): RegisteredFunction[] {
  return [...functions.values()];
}

/** Runs the hooks registered under `name` in order, awaiting each. */
export async function runHooks(name: string, context: Record<string, unknown>): Promise<void> {
  for (const hook of hooks.get(name) ?? []) await hook(context);
}

/**
 * Lets the programming model adjust capabilities and lock `app.setup`, as at worker start-up; returns the
 * capabilities it reports (`HttpUri` when the app enabled HTTP streaming).
 */
export async function initProgrammingModel(): Promise<Record<string, string>> {
  if (!programmingModel)
    throw new Error('The app registered no programming model: does it import @azure/functions?');
  return (await programmingModel.getCapabilities?.({})) ?? {};
}

/** Invokes a function the way the worker does: model arguments, hooks, callback, model response. */
export async function invoke(
  fn: RegisteredFunction,
  request: Omit<InvocationRequest, 'invocationId' | 'functionId'>,
  invocationId: string = randomUUID(),
): Promise<InvocationResponse> {
  if (!programmingModel) throw new Error('no programming model registered');
  const name = fn.metadata.name;
  // Filled in once the model has made the context; log lines before that have none.
  const current: { context?: unknown } = {};
  const coreCtx: CoreInvocationContext = {
    invocationId,
    request: { ...request, invocationId, functionId: fn.metadata.functionId ?? name },
    metadata: { ...fn.metadata, name },
    log: (level, category, message) => {
      sink(level, `${name}: ${message}`);
      runLogHooks({ level, category, message, invocationContext: current.context });
    },
  };
  const model = await programmingModel.getInvocationModel(coreCtx);
  const { context, inputs } = await model.getArguments();
  current.context = context;
  const hookData: Record<string, unknown> = {};

  coreCtx.state = 'preInvocationHooks';
  const pre = { hookData, appHookData, invocationContext: context, inputs, functionCallback: fn.callback };
  await runHooks('preInvocation', pre);

  coreCtx.state = 'invocation';
  let result: unknown;
  let error: unknown;
  try {
    result = await model.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (err) {
    error = err;
  }

  coreCtx.state = 'postInvocationHooks';
  const post = { hookData, appHookData, invocationContext: context, inputs: pre.inputs, result, error };
  await runHooks('postInvocation', post);
  coreCtx.state = undefined;
  if (post.error !== undefined && post.error !== null) {
    throw post.error instanceof Error
      ? post.error
      : new Error(`function failed with a non-error value: ${JSON.stringify(post.error)}`);
  }
  return model.getResponse(context, post.result);
}

/** Runs appStart hooks with the app folder, as the worker does after loading the app. */
export async function runAppStart(functionAppDirectory: string): Promise<void> {
  await runHooks('appStart', { hookData: {}, appHookData, functionAppDirectory });
}

/** Runs appTerminate hooks, as the worker does on graceful shutdown. */
export async function runAppTerminate(): Promise<void> {
  await runHooks('appTerminate', { hookData: {}, appHookData });
}
