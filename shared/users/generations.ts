// The generation rule, in one place: deleting a user is final. Each creation of a user id is a new
// incarnation (generation), issued and recorded in the cart's hash slot, where every cart write checks
// it atomically; a delete marks its generation closed there before the user goes. So no late write of a
// deleted user reaches the cart, nor the cart of a user created again with the same id, on a cluster too.
// The users service (create, delete) and the carts service (every write) both go through here.
import { closeCart, openCart, reserveGeneration } from '../carts/store.js';
import { errors } from '../errors.js';
import type { Redis } from '../redis/connect.js';
import { adoptGeneration, readGeneration } from './store.js';

/** Issues the generation a new user of this id is created as (above every one the id had). */
export async function newGeneration(redis: Redis, userId: string): Promise<number> {
  return reserveGeneration(redis, userId);
}

/** Hands the cart to the new generation `g`, empty (what an earlier user of the id left is dropped). */
export async function beginGeneration(redis: Redis, userId: string, g: number): Promise<void> {
  await openCart(redis, userId, g);
}

/**
 * The generation a user exists as; 404 when there is no such user. A user made outside the API (Redis
 * Insight, the classic demo) is given one here, at its first cart write or its delete.
 */
export async function currentGeneration(redis: Redis, userId: string): Promise<number> {
  const { exists, generation } = await readGeneration(redis, userId);
  if (!exists) throw errors.userNotFound(userId);
  if (generation !== undefined) return generation;
  const adopted = await adoptGeneration(redis, userId, await reserveGeneration(redis, userId));
  if (adopted === undefined) throw errors.userNotFound(userId);
  return adopted;
}

/** Marks generation `g` deleted and drops its cart: from now on no cart write for it succeeds. */
export async function endGeneration(redis: Redis, userId: string, g: number): Promise<void> {
  await closeCart(redis, userId, g);
}
