// What the runner says of a failure, whatever was thrown (it serves any app, so it takes nothing from it).

/** The failure's message. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What a failure says in the log: its stack when it has one. */
export function failureText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
