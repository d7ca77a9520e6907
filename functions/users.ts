import { replayedHeaders } from '../shared/http/idempotency.js';
import { defineRoute, empty, json } from '../shared/http/route.js';
import { CreateUserInput, UpdateUserInput, User, UserPath } from '../shared/users/schema.js';
import * as users from '../shared/users/service.js';

export const createUser = defineRoute({
  name: 'createUser',
  method: 'POST',
  path: '/users',
  authLevel: 'function',
  summary: 'Create a user',
  tag: 'users',
  body: CreateUserInput,
  idempotency: () => 'POST users',
  responses: { 201: { description: 'Created', schema: User, headers: ['Location'] } },
  errors: ['user_exists'],
  handler: async ({ body, idempotency }) => {
    const { value: user, replayed } = await users.createUser(body, idempotency);
    return json(201, user, { Location: `/api/users/${user.id}`, ...replayedHeaders(replayed) });
  },
});

export const getUser = defineRoute({
  name: 'getUser',
  method: 'GET',
  path: '/users/{userId}',
  authLevel: 'function',
  summary: 'Read a user',
  tag: 'users',
  params: UserPath,
  responses: { 200: { description: 'The user', schema: User } },
  errors: ['user_not_found'],
  handler: async ({ params }) => json(200, await users.getUser(params.userId)),
});

export const updateUser = defineRoute({
  name: 'updateUser',
  method: 'PATCH',
  path: '/users/{userId}',
  authLevel: 'function',
  summary: 'Update a user (any subset of fields; email null removes it)',
  tag: 'users',
  params: UserPath,
  body: UpdateUserInput,
  responses: { 200: { description: 'The user', schema: User } },
  errors: ['user_not_found'],
  handler: async ({ params, body }) => json(200, await users.updateUser(params.userId, body)),
});

export const deleteUser = defineRoute({
  name: 'deleteUser',
  method: 'DELETE',
  path: '/users/{userId}',
  authLevel: 'function',
  summary: 'Delete a user and their cart, for good',
  tag: 'users',
  params: UserPath,
  responses: { 204: { description: 'Deleted' } },
  errors: ['user_not_found'],
  handler: async ({ params }) => {
    await users.deleteUser(params.userId);
    return empty();
  },
});
