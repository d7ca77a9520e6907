import { z } from 'zod';

import { Id } from '../ids.js';

/** A first or last name as the API takes it. */
export const Name = z.string().trim().min(1).max(100);
/** An email address as the API takes it. */
export const Email = z.email().max(254);

/** Body of POST /users. */
export const CreateUserInput = z.strictObject({
  id: Id.optional(),
  firstName: Name,
  lastName: Name,
  email: Email.optional(),
});
/** Body of POST /users (type). */
export type CreateUserInput = z.infer<typeof CreateUserInput>;

/** Body of PATCH /users/{userId}: any subset; `email: null` removes the email. */
export const UpdateUserInput = z
  .strictObject({ firstName: Name.optional(), lastName: Name.optional(), email: Email.nullable().optional() })
  .refine((v) => Object.keys(v).length > 0, { error: 'must change at least one field' });
/** Body of PATCH /users/{userId} (type). */
export type UpdateUserInput = z.infer<typeof UpdateUserInput>;

/** A user as the API returns it. */
export const User = z.object({
  id: Id,
  firstName: z.string(),
  lastName: z.string(),
  email: z.string().optional(),
});
/** A user (type). */
export type User = z.infer<typeof User>;

/** Route parameters naming a user. */
export const UserPath = z.object({ userId: Id });
