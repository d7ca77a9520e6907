import type { Redis } from '../redis/client.js';
import { keys } from '../redis/keys.js';
import { HASH_CREATE, HASH_UPDATE, runScript } from '../redis/scripts.js';
import type { User } from './schema.js';

function toUser(id: string, h: Record<string, string>): User | undefined {
  if (h.first_name === undefined || h.last_name === undefined) return undefined;
  return { id, firstName: h.first_name, lastName: h.last_name, ...(h.email ? { email: h.email } : {}) };
}

/** Creates `user:{id}` unless it exists; true when created. */
export async function insertUser(redis: Redis, user: User): Promise<boolean> {
  const fields = [
    'first_name',
    user.firstName,
    'last_name',
    user.lastName,
    ...(user.email ? ['email', user.email] : []),
  ];
  return (await runScript(redis, HASH_CREATE, [keys.user(user.id)], fields)) === 1;
}

/** Reads a user, or undefined when absent. */
export async function findUser(redis: Redis, id: string): Promise<User | undefined> {
  return toUser(id, await redis.hGetAll(keys.user(id)));
}

/** True when `user:{id}` exists. */
export async function userExists(redis: Redis, id: string): Promise<boolean> {
  return (await redis.exists(keys.user(id))) === 1;
}

/** Sets and removes fields of an existing user atomically; false when the user does not exist. */
export async function updateUserFields(
  redis: Redis,
  id: string,
  set: Record<string, string>,
  remove: string[],
): Promise<boolean> {
  const pairs = Object.entries(set).flat();
  const args = [String(pairs.length / 2), ...pairs, ...remove];
  return (await runScript(redis, HASH_UPDATE, [keys.user(id)], args)) === 1;
}

/** Deletes the user and then their cart; false when the user did not exist. */
export async function deleteUserAndCart(redis: Redis, id: string): Promise<boolean> {
  // Two keys in two hash slots: one DEL each. The cart goes even if the user was already gone.
  const [removed] = await Promise.all([redis.del(keys.user(id)), redis.del(keys.cart(id))]);
  return removed === 1;
}
