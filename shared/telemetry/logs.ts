// Logs as OpenTelemetry log records, correlated with the active span (trace and span ids) and the
// invocation. Microsoft's @azure/functions-opentelemetry-instrumentation does the same through a require
// hook, which never sees this ESM app's import of @azure/functions; these are the public hooks it uses.
import { app, type LogLevel } from '@azure/functions';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';

const SEVERITY: Record<LogLevel, SeverityNumber> = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  information: SeverityNumber.INFO,
  warning: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
  critical: SeverityNumber.FATAL,
  none: SeverityNumber.UNSPECIFIED,
};

/** Sends the app's logs through OpenTelemetry, and tells the host not to send them a second time. */
export function forwardLogs(): void {
  app.setup({ capabilities: { WorkerOpenTelemetryEnabled: true } });
  const logger = logs.getLogger('azure-redis-cart');
  app.hook.log((entry) => {
    logger.emit({
      body: entry.message,
      severityNumber: SEVERITY[entry.level],
      severityText: entry.level,
      attributes: {
        'log.category': entry.category,
        ...(entry.invocationContext
          ? {
              'faas.invocation_id': entry.invocationContext.invocationId,
              'faas.name': entry.invocationContext.functionName,
            }
          : {}),
      },
    });
  });
}
