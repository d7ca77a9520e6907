import { z } from 'zod';

/** The only shape an id may take: nothing in it can reach another key (no `:`, `{`, `*`, spaces). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A validated id of a user or SKU. */
export const Id = z.string().regex(ID_PATTERN, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ -' });
/** A validated id (type). */
export type Id = z.infer<typeof Id>;
