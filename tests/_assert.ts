// Assertions on expected errors: the type and the message, not just that something failed.
import assert from "node:assert/strict";

/**
 * A validator for `assert.rejects`/`assert.throws`: the error is an instance of `type` and its
 * message is exactly `message` (or matches it, for a RegExp anchored by the caller).
 */
export function exactly(
  type: new (...args: never[]) => Error,
  message: string | RegExp,
): (e: unknown) => true {
  return (e) => {
    assert.ok(e instanceof type, `expected a ${type.name}, got ${String(e)}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  };
}
