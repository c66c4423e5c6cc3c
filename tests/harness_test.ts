// The suite's own guards: a test that waits forever fails with its name and the run goes on;
// the seed of a failing test's random choices is printed and replays them; and every test file
// uses the guarded `test()`, with randomness only from the seeded generator.
import assert from "node:assert/strict";
import { test } from "./_test.ts";
import { failures, ROOT, runDeno } from "./_deno.ts";

test("a test that waits forever fails at its limit, naming itself, and the run goes on", async () => {
  const out = await runDeno(
    [
      "test",
      "--no-check",
      "--config",
      "deno.json",
      "--allow-env",
      "--allow-net=127.0.0.1",
      "tests/fixtures/hang_fixture.ts",
    ],
    { env: { P2PS_TEST_LIMIT_MS: "300" } },
  );
  assert.equal(out.code, 1, out.text);
  for (
    const name of [
      "waits for a promise that never settles",
      "waits for a connection that never comes",
    ]
  ) {
    assert.match(out.text, new RegExp(`^${name} \\.\\.\\. FAILED`, "m"));
    assert.ok(
      out.text.includes(`Error: Test "${name}" did not finish within its limit of 300 ms`),
      out.text,
    );
  }
  assert.match(out.text, /^runs after the tests that hung \.\.\. ok/m);
  // The mutation check and the stress script read failures the same way.
  assert.deepEqual(failures(out.text), [
    'fixtures/hang_fixture.ts: waits for a promise that never settles — Error: Test "waits for a promise that never settles" did not finish within its limit of 300 ms (P2PS_TEST_LIMIT_MS): it was waiting for something that never came',
    'fixtures/hang_fixture.ts: waits for a connection that never comes — Error: Test "waits for a connection that never comes" did not finish within its limit of 300 ms (P2PS_TEST_LIMIT_MS): it was waiting for something that never came',
  ]);
  assert.match(out.text, /^FAILED \| 1 passed \| 2 failed/m);
});

test("a failing test that drew random numbers prints its seed, and the seed replays them", async () => {
  const args = [
    "test",
    "--no-check",
    "--config",
    "deno.json",
    "--allow-env",
    "tests/fixtures/seed_fixture.ts",
  ];
  const first = await runDeno(args);
  assert.equal(first.code, 1, first.text);
  const seeds = [
    ...first.text.matchAll(
      /came from seed (\d+); replay them with\n {2}P2PS_TEST_SEED=(\d+) deno task test --filter "draws three numbers and fails"/g,
    ),
  ];
  assert.equal(seeds.length, 1, `one seed line, for the test that drew:\n${first.text}`);
  assert.equal(seeds[0][1], seeds[0][2]);
  const drawn = /drew (\[[^\]]*\])/.exec(first.text)?.[1];
  assert.ok(drawn, first.text);
  const replay = await runDeno(args, { env: { P2PS_TEST_SEED: seeds[0][1] } });
  assert.equal(/drew (\[[^\]]*\])/.exec(replay.text)?.[1], drawn, "the same numbers again");
  assert.ok(replay.text.includes(`came from seed ${seeds[0][1]};`), replay.text);
});

/** Test files that may call Deno.test directly (none). */
const PENDING: string[] = [];

test("every test file registers its tests through the guarded test() and draws no unseeded numbers", async () => {
  const files: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}tests`)) {
    if (e.isFile && e.name.endsWith("_test.ts") && !e.name.startsWith("_")) files.push(e.name);
  }
  assert.ok(files.length >= 20, files.join());
  for (const name of files.sort()) {
    const text = await Deno.readTextFile(`${ROOT}tests/${name}`);
    if (!PENDING.includes(name)) {
      assert.doesNotMatch(text, /\bDeno\.test\(/, `${name} calls Deno.test directly`);
      assert.match(text, /^import \{ test \} from "\.\/_test\.ts";$/m, `${name} imports test()`);
    }
  }
  for await (const e of Deno.readDir(`${ROOT}tests`)) {
    if (!e.isFile || !e.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(`${ROOT}tests/${e.name}`);
    assert.doesNotMatch(text, /Math\.random\(/, `${e.name} uses Math.random (use ctx.random)`);
  }
});
