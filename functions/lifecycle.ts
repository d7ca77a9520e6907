import { app } from '@azure/functions';
import { closeRedis } from '../shared/redis/client.js';

// Close the shared client on graceful shutdown so in-flight replies are delivered, not cut off.
app.hook.appTerminate(async () => {
  try {
    await closeRedis();
  } catch (err) {
    console.warn(`Closing Redis failed: ${String(err)}`);
  }
});
