import assert from "node:assert/strict";
import { realClock } from "../lib/com/transport.ts";
import { test } from "./_test.ts";

test("the real clock stands still within one synchronous stretch and moves on after it", async () => {
  const t0 = realClock.now();
  const spinUntil = performance.now() + 3;
  while (performance.now() < spinUntil) { /* a synchronous stretch of 3 ms */ }
  assert.equal(realClock.now(), t0, "read once per stretch");
  await null;
  const t1 = realClock.now();
  assert.ok(t1 >= t0 + 3, `after the stretch: ${t1 - t0} ms later`);
  assert.ok(Math.abs(t1 - performance.now()) < 1);
});
