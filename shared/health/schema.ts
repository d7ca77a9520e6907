import { z } from 'zod';

/** What the health endpoint reports about the Redis connection. */
export const HealthReport = z.object({
  status: z.literal('ok'),
  redis: z.object({
    mode: z.enum(['standalone', 'cluster']),
    tls: z.boolean(),
    auth: z.enum(['none', 'password', 'entra']),
    latencyMs: z.number(),
  }),
});
/** What the health endpoint reports (type). */
export type HealthReport = z.infer<typeof HealthReport>;
