import assert from "node:assert/strict";
import { test } from "./_test.ts";

test("the leak sanitizers configured in deno.json fail a test that leaks a timer", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--config", `${root}deno.json`, `${root}tests/fixtures/leaky_timer.ts`],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.success, false, text);
  assert.match(text, /Leaks detected|leak/i);
});
