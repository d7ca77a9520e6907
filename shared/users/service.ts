import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import { getRedis } from '../redis/client.js';
import type { CreateUserInput, UpdateUserInput, User } from './schema.js';
import { deleteUserAndCart, findUser, insertUser, updateUserFields } from './store.js';

const notFound = (id: string) => new AppError(404, 'user_not_found', `User ${id} does not exist.`);

/** Creates a user (id generated when absent); 409 when the id is taken. */
export async function createUser(input: CreateUserInput): Promise<User> {
  const user: User = { ...input, id: input.id ?? randomUUID() };
  if (!(await insertUser(await getRedis(), user))) {
    throw new AppError(409, 'user_exists', `User ${user.id} already exists.`);
  }
  return user;
}

/** Reads a user; 404 when absent. */
export async function getUser(id: string): Promise<User> {
  const user = await findUser(await getRedis(), id);
  if (!user) throw notFound(id);
  return user;
}

/** Applies a partial update; 404 when absent. */
export async function updateUser(id: string, input: UpdateUserInput): Promise<User> {
  const set: Record<string, string> = {};
  if (input.firstName !== undefined) set.first_name = input.firstName;
  if (input.lastName !== undefined) set.last_name = input.lastName;
  if (input.email) set.email = input.email;
  const remove = input.email === null ? ['email'] : [];
  const redis = await getRedis();
  if (!(await updateUserFields(redis, id, set, remove))) throw notFound(id);
  return getUser(id);
}

/** Deletes a user and their cart; 404 when absent. */
export async function deleteUser(id: string): Promise<void> {
  if (!(await deleteUserAndCart(await getRedis(), id))) throw notFound(id);
}
