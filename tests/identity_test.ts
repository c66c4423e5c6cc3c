// Node identity bound to static keys, over real TCP with a hand-driven peer that skips every check
// of its own: a live node's id cannot be taken over by a link with another key, and in a network
// of key-derived ids nobody presents an id their key does not give.
import assert from "node:assert/strict";
import { createNet, joinNet } from "../lib/node/net.ts";
import { ringOf } from "../lib/node/node.ts";
import { idOfKey } from "../lib/core/identity.ts";
import { generateStaticKeyPair, keyPairFromPrivate } from "../lib/com/noise/mod.ts";
import { InvalidArgumentError, JoinError } from "../lib/errors.ts";
import { rogue } from "./_rogue.ts";
import { exactly } from "./_assert.ts";
import { test } from "./_test.ts";
import { until } from "./_wait.ts";

test("a link claiming a live node's id with another key is refused; once that node is gone, its id may come back with a new key", async () => {
  await using a = await createNet({ node: { id: 1 }, net: { maxKey: 1000 } });
  const net = a.info().net!;
  const b = await joinNet(a.ap, { node: { id: 500 } });
  try {
    await until(() => a.info().succ.id === 500 && b.info().succ.id === 1, "a two-node ring");
    await assert.rejects(
      rogue(a.ap, 500, { net }),
      exactly(Error, "The node refused the rogue: Node id 500 is live with another key: refused"),
    );
    assert.equal(a.statistics().badLinks, 1);
    assert.equal(a.info().pred?.id, 500, "node 500 is still node 1's neighbour");
    assert.equal((await b.send(1, "still here", { ack: true })).node, 1);
  } finally {
    await b.leave();
  }
  await until(
    () => a.status === "alone" && !ringOf(a).transport.isLinked(500),
    "node 500 to be gone",
  );
  // Gone, not displaced: a node with a new key may have the id now.
  const back = await rogue(a.ap, 500, { net });
  await back.close();
  assert.equal(a.statistics().badLinks, 1);
});

test("in a network of key-derived ids a hello whose id its key does not give is refused, and no node chooses its id", async () => {
  const maxKey = 1 << 20;
  await using a = await createNet({ net: { idFromKey: true, maxKey } });
  const net = a.info().net!;
  assert.equal(a.id, idOfKey(ringOf(a).publicKey(), maxKey));
  const keyPair = generateStaticKeyPair();
  const derived = idOfKey(keyPair.publicKey, maxKey);
  // Another id, and not node a's (that one would be refused as a duplicate).
  let other = (derived + 1) % maxKey;
  if (other === a.id) other = (other + 1) % maxKey;
  await assert.rejects(
    rogue(a.ap, other, { net, keyPair }),
    exactly(
      Error,
      `The node refused the rogue: Node id ${other} is not the id its key derives (${derived})`,
    ),
  );
  assert.equal(a.statistics().badLinks, 1);
  // The same key with the id it derives is accepted.
  const honest = await rogue(a.ap, derived, { net, keyPair });
  await honest.close();
  assert.equal(a.statistics().badLinks, 1);
  // A joiner refuses itself an id of its choosing; without one it takes its key's.
  const identity = generateStaticKeyPair().privateKey;
  const own = idOfKey(keyPairFromPrivate(identity).publicKey, maxKey);
  await assert.rejects(
    joinNet(a.ap, { node: { id: 5 }, identity }),
    exactly(
      JoinError,
      `The network derives ids from keys: this node's key gives id ${own}, not 5`,
    ),
  );
  await using c = await joinNet(a.ap, { identity });
  assert.equal(c.id, own);
  await until(() => a.info().succ.id === own && c.info().succ.id === a.id, "a two-node ring");
  await assert.rejects(
    createNet({ net: { idFromKey: true }, node: { id: 5 } }),
    exactly(
      InvalidArgumentError,
      "node.id cannot be chosen in a network that derives ids from keys (net.idFromKey)",
    ),
  );
});
