import type { Idempotency } from '../idempotency.js';
import type { Redis } from '../redis/connect.js';
import { keys } from '../redis/keys.js';
import { runScript } from '../redis/scripts.js';
import type { UpdateUserInput, User } from './schema.js';
import { HASH_UPDATE, USER_ADOPT, USER_CREATE, USER_DELETE, type UserCreate } from './scripts.js';

// The seed's field names in `user:{id}`.
const FIRST = 'first_name';
const LAST = 'last_name';
const EMAIL = 'email';

function toUser(id: string, h: Record<string, string>): User | undefined {
  if (h[FIRST] === undefined || h[LAST] === undefined) return undefined;
  return { id, firstName: h[FIRST], lastName: h[LAST], ...(h[EMAIL] ? { email: h[EMAIL] } : {}) };
}

/**
 * Creates `user:{id}` as incarnation `generation` unless it exists, recording the Idempotency-Key (if
 * any) in the same step: 'replayed' when the key was applied before.
 */
export async function insertUser(
  redis: Redis,
  user: User,
  generation: number,
  idempotency?: Idempotency,
): Promise<UserCreate> {
  const fields = [FIRST, user.firstName, LAST, user.lastName, ...(user.email ? [EMAIL, user.email] : [])];
  const record = idempotency ? [keys.userIdempotency(user.id, idempotency.key)] : [];
  return runScript(
    redis,
    USER_CREATE,
    [keys.user(user.id), keys.userGeneration(user.id), ...record],
    [String(generation), idempotency?.fingerprint ?? '', ...fields],
  );
}

/** Reads a user, or undefined when absent. */
export async function findUser(redis: Redis, id: string): Promise<User | undefined> {
  return toUser(id, await redis.hGetAll(keys.user(id)));
}

/** Whether `user:{id}` exists and which incarnation it is (undefined for a user made outside the API). */
export async function readGeneration(
  redis: Redis,
  id: string,
): Promise<{ exists: boolean; generation: number | undefined }> {
  const [exists, generation] = await Promise.all([
    redis.exists(keys.user(id)),
    redis.get(keys.userGeneration(id)),
  ]);
  return { exists: exists === 1, generation: generation === null ? undefined : Number(generation) };
}

/** Gives a user made outside the API (Redis Insight, the classic demo) the generation `g`, unless it has one; returns the user's generation, or undefined when the user is gone. */
export async function adoptGeneration(redis: Redis, id: string, g: number): Promise<number | undefined> {
  const reply = await runScript(redis, USER_ADOPT, [keys.user(id), keys.userGeneration(id)], [String(g)]);
  return reply === '' ? undefined : Number(reply);
}

/** Applies a partial update of an existing user atomically; false when the user does not exist. */
export async function updateUserFields(redis: Redis, id: string, input: UpdateUserInput): Promise<boolean> {
  const set: string[] = [];
  if (input.firstName !== undefined) set.push(FIRST, input.firstName);
  if (input.lastName !== undefined) set.push(LAST, input.lastName);
  if (input.email) set.push(EMAIL, input.email);
  const remove = input.email === null ? [EMAIL] : [];
  const args = [String(set.length / 2), ...set, ...remove];
  return (await runScript(redis, HASH_UPDATE, [keys.user(id)], args)) === 1;
}

/** Deletes `user:{id}` if it is still incarnation `generation`; false when it is gone or was re-created. */
export async function deleteUserIf(redis: Redis, id: string, generation: number): Promise<boolean> {
  const deleted = await runScript(
    redis,
    USER_DELETE,
    [keys.user(id), keys.userGeneration(id)],
    [String(generation)],
  );
  return deleted === 1;
}
