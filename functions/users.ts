import { app } from '@azure/functions';
import { empty, json, parseJsonBody, parsePath, readBodyText, readJson, route } from '../shared/http.js';
import { idempotencyKey, withIdempotency } from '../shared/idempotency/service.js';
import { CreateUserInput, UpdateUserInput, UserPath } from '../shared/users/schema.js';
import * as users from '../shared/users/service.js';

/** POST /api/users: creates a user; honours Idempotency-Key. */
export const createUser = route(async (request) => {
  const key = idempotencyKey(request);
  const text = await readBodyText(request);
  const input = parseJsonBody(text, CreateUserInput);
  return withIdempotency('users', key, text, async () => {
    const user = await users.createUser(input);
    return json(201, user, { Location: `/api/users/${user.id}` });
  });
});

/** GET /api/users/{userId}. */
export const getUser = route(async (request) =>
  json(200, await users.getUser(parsePath(request, UserPath).userId)),
);

/** PATCH /api/users/{userId}: partial update. */
export const updateUser = route(async (request) => {
  const { userId } = parsePath(request, UserPath);
  return json(200, await users.updateUser(userId, await readJson(request, UpdateUserInput)));
});

/** DELETE /api/users/{userId}: removes the user and their cart. */
export const deleteUser = route(async (request) => {
  await users.deleteUser(parsePath(request, UserPath).userId);
  return empty();
});

app.http('createUser', { route: 'users', methods: ['POST'], authLevel: 'function', handler: createUser });
app.http('getUser', { route: 'users/{userId}', methods: ['GET'], authLevel: 'function', handler: getUser });
app.http('updateUser', {
  route: 'users/{userId}',
  methods: ['PATCH'],
  authLevel: 'function',
  handler: updateUser,
});
app.http('deleteUser', {
  route: 'users/{userId}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: deleteUser,
});
