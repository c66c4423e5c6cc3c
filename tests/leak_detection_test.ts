// Deno ignores unknown deno.json keys silently: these prove that the sanitizers configured there
// are on, by running fixtures that leak on purpose and reading the exact failure.
import assert from "node:assert/strict";
import { test } from "./_test.ts";
import { runDeno } from "./_deno.ts";

test("the ops sanitizer configured in deno.json fails a test that leaks a timer", async () => {
  const out = await runDeno(["test", "--config", "deno.json", "tests/fixtures/leaky_timer.ts"]);
  assert.equal(out.code, 1, out.text);
  assert.match(
    out.text,
    /^leaks a timer => \.\/tests\/fixtures\/leaky_timer\.ts:\d+:\d+\nerror: Leaks detected:\n {2}- A timer was started in this test, but never completed\./m,
  );
  assert.match(out.text, /^FAILED \| 0 passed \| 1 failed/m);
});

test("the resource sanitizer configured in deno.json fails a test that leaks a listener", async () => {
  const out = await runDeno([
    "test",
    "--config",
    "deno.json",
    "--allow-net=127.0.0.1",
    "tests/fixtures/leaky_listener.ts",
  ]);
  assert.equal(out.code, 1, out.text);
  assert.match(
    out.text,
    /^error: Leaks detected:\n {2}- A TCP listener was opened during the test, but not closed during the test\./m,
  );
  assert.match(out.text, /^FAILED \| 0 passed \| 1 failed/m);
});
