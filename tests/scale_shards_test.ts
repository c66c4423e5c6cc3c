// The sharded scale benchmark end to end: real shard processes, one network, every lookup right.
import assert from "node:assert/strict";
import { test } from "./_test.ts";

test("bench/scale.ts --shards 2: 1,000 nodes over two processes, every lookup answered by the right node", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-run",
      "--allow-sys=loadavg",
      "--v8-flags=--expose-gc",
      "bench/scale.ts",
      "1000",
      "--shards",
      "2",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(r.settings.shards, 2);
  const [step] = r.steps;
  assert.equal(step.nodes, 1000);
  assert.equal(step.lookups.answered, 20_000);
  assert.equal(step.lookups.right, 20_000);
  // Both shards hold nodes and frames crossed between them: the joins through shard 0's first
  // node came from both.
  assert.ok(step.join.framesPerJoin.Lookup > 0);
  assert.match(err, /2 shard processes/);
});
