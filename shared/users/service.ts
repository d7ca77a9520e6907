import { createHash, randomUUID } from 'node:crypto';

import { AppError, errors, isRedisUnavailable } from '../errors.js';
import type { Idempotency, Outcome } from '../idempotency.js';
import { getRedis } from '../redis/client.js';
import { beginGeneration, currentGeneration, endGeneration, newGeneration } from './generations.js';
import { type CreateUserInput, Email, Name, type UpdateUserInput, type User } from './schema.js';
import { deleteUserIf, findUser, insertUser, updateUserFields } from './store.js';

/** The id of a user created without one: random, or derived from the Idempotency-Key so a retry names the same user. */
function newUserId(idempotency: Idempotency | undefined): string {
  if (!idempotency) return randomUUID();
  const h = createHash('sha256').update('user\n').update(idempotency.key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Creates a user (id generated when absent); 409 when the id is taken. Each creation is a new generation
 * of the id, so a user created again after a delete starts with an empty cart and no late write of the
 * deleted one can reach it. With an Idempotency-Key the creation and the key are recorded together in
 * the user's hash slot: a retry is answered with the same user, never a 409.
 */
export async function createUser(input: CreateUserInput, idempotency?: Idempotency): Promise<Outcome<User>> {
  const user: User = { ...input, id: input.id ?? newUserId(idempotency) };
  const redis = await getRedis();
  const g = await newGeneration(redis, user.id);
  const created = await insertUser(redis, user, g, idempotency);
  if (created === 'exists') throw errors.userExists(user.id);
  if (created === 'reused') throw errors.idempotencyKeyReused();
  if (created === 'replayed') return { value: user, replayed: true };
  try {
    // Drops what an earlier user of this id left in the cart now, rather than at the first cart write.
    await beginGeneration(redis, user.id, g);
  } catch (err) {
    // The user exists, so the answer is 201: reads already show an empty cart and the first write
    // empties it. Only a Redis outage is forgiven here; anything else is a bug to report.
    if (!isRedisUnavailable(err)) throw err;
  }
  return { value: user, replayed: false };
}

/**
 * The signed-in shopper's profile: `user:{id}` as it is, or created from the token's claims (given_name,
 * family_name, email where present) on first use, so a shopper can add to their cart at once.
 */
export async function profileOf(principal: {
  userId: string;
  givenName: string | undefined;
  familyName: string | undefined;
  email: string | undefined;
}): Promise<User> {
  const found = await findUser(await getRedis(), principal.userId);
  if (found) return found;
  // The claims pass the same rules as a body would; a claim that does not is left out.
  const valid = (schema: typeof Name | typeof Email, value: string | undefined) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  const email = valid(Email, principal.email);
  try {
    return (
      await createUser({
        id: principal.userId,
        firstName: valid(Name, principal.givenName) ?? '',
        lastName: valid(Name, principal.familyName) ?? '',
        ...(email ? { email } : {}),
      })
    ).value;
  } catch (err) {
    // Two first requests at once: the other one created it.
    if (err instanceof AppError && err.code === 'user_exists') return getUser(principal.userId);
    throw err;
  }
}

/** Reads a user; 404 when absent. */
export async function getUser(id: string): Promise<User> {
  const user = await findUser(await getRedis(), id);
  if (!user) throw errors.userNotFound(id);
  return user;
}

/** Applies a partial update; 404 when absent. */
export async function updateUser(id: string, input: UpdateUserInput): Promise<User> {
  if (!(await updateUserFields(await getRedis(), id, input))) throw errors.userNotFound(id);
  return getUser(id);
}

/**
 * Deletes a user and their cart; 404 when absent. The cart's slot learns first that this generation is
 * deleted (from then on every cart write for it is refused, atomically), then the user goes: once this
 * answers, no add can succeed until the id is created again, on a cluster too.
 */
export async function deleteUser(id: string): Promise<void> {
  const redis = await getRedis();
  const g = await currentGeneration(redis, id);
  await endGeneration(redis, id, g);
  if (!(await deleteUserIf(redis, id, g))) throw errors.userNotFound(id);
}
