// The talk's three slides as three processes, on ports the system chooses: node 3 reaches a key
// that another node holds, and the nodes it multicasts to print the message.
import assert from "node:assert/strict";
import { Proc } from "./_gateway_process.ts";
import { test } from "./_test.ts";

const RUN = ["run", "--allow-net=127.0.0.1"];

function accessPoint(line: string): string {
  const ap = / at (127\.0\.0\.1:\d+)/.exec(line)?.[1];
  assert.ok(ap, line);
  return ap;
}

test("examples node1, node2 and node3 on free ports: node 3's message lands on node 16, its multicast on both", async () => {
  await using node1 = new Proc([...RUN, "examples/node1.ts", "0"]);
  const ap1 = accessPoint(await node1.waitFor((l) => l.startsWith("node 1 created"), "node 1"));
  await using node2 = new Proc([...RUN, "examples/node2.ts", "0", ap1]);
  const ap2 = accessPoint(await node2.waitFor((l) => l.startsWith("node 16 joined"), "node 16"));
  await using node3 = new Proc([...RUN, "examples/node3.ts", ap2]);
  const joined = await node3.waitFor((l) => /^node \d+ joined/.test(l), "node 3");
  const id3 = Number(/^node (\d+)/.exec(joined)![1]);
  const sent = await node3.waitFor((l) => l.startsWith("key 10 →"), "the send to key 10");
  assert.match(sent, /^key 10 → delivered to node 16 in [1-9]\d* hop\(s\)$/);
  await node3.waitFor((l) => l === "multicast → reached [1, 16]", "the multicast");
  assert.equal((await node3.status()).code, 0, node3.stderr);
  await node2.waitFor(
    (l) => l.startsWith(`from ${id3} (send,`) && l.includes("anOzValue"),
    "the value at node 16",
  );
  await node2.waitFor((l) => l.startsWith(`from ${id3} (multicast,`), "hello at node 16");
  await node1.waitFor((l) => l.startsWith(`from ${id3} (multicast,`), "hello at node 1");
  assert.equal((await node2.stop("SIGINT")).code, 0, node2.stderr);
  assert.equal((await node1.stop("SIGINT")).code, 0, node1.stderr);
});
