// The admission of inbound connections in their handshake, as plain data (lib/com/tcp/admission.ts):
// which pending handshake is shed when a cap is reached, for every tie and order, on the data
// structure. tests/handshake_flood_test.ts floods a live node from one address, and
// tests/prelink_memory_test.ts from twenty (127.0.0.2–21, in a child process bound to each).
import assert from "node:assert/strict";
import { PendingHandshakes } from "../lib/com/tcp/admission.ts";
import { TcpTransport } from "../lib/com/tcp/transport.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { test } from "./_test.ts";

/** Admits `names` from `address` in order; returns what each admission shed. */
function admitAll(
  pending: PendingHandshakes<string>,
  address: string,
  names: string[],
): (string | null)[] {
  return names.map((name) => pending.admit(address, name));
}

test("past the per-address cap, each new connection sheds the oldest of its own address", () => {
  const pending = new PendingHandshakes<string>(3, 100);
  assert.deepEqual(admitAll(pending, "A", ["a1", "a2", "a3"]), [null, null, null]);
  assert.deepEqual(admitAll(pending, "B", ["b1"]), [null]);
  assert.deepEqual(admitAll(pending, "A", ["a4", "a5"]), ["a1", "a2"]);
  assert.deepEqual([pending.from("A"), pending.from("B"), pending.size], [3, 1, 4]);
});

test("a completed or closed handshake frees its place, and forgetting one twice is harmless", () => {
  const pending = new PendingHandshakes<string>(2, 100);
  admitAll(pending, "A", ["a1", "a2"]);
  pending.remove("a1");
  pending.remove("a1");
  pending.remove("never admitted");
  assert.equal(pending.admit("A", "a3"), null);
  assert.equal(pending.admit("A", "a4"), "a2");
  assert.equal(pending.size, 2);
});

test("past the total cap, a newcomer sheds the oldest of the address with the most pending", () => {
  const pending = new PendingHandshakes<string>(10, 6);
  admitAll(pending, "A", ["a1", "a2"]);
  admitAll(pending, "B", ["b1", "b2", "b3", "b4"]);
  // An honest newcomer from a third address gets in; the flooding address pays.
  assert.equal(pending.admit("C", "c1"), "b1");
  assert.equal(pending.admit("D", "d1"), "b2");
  // Now A and B hold two each: the tie goes to the address whose oldest is the oldest.
  assert.equal(pending.admit("E", "e1"), "a1");
  assert.deepEqual(
    ["A", "B", "C", "D", "E"].map((a) => pending.from(a)),
    [1, 2, 1, 1, 1],
  );
});

test("at the total cap, an address never displaces one that holds no more than it would", () => {
  const pending = new PendingHandshakes<string>(10, 4);
  admitAll(pending, "A", ["a1", "a2"]);
  admitAll(pending, "B", ["b1", "b2"]);
  // A would hold three: its own oldest goes, not B's.
  assert.equal(pending.admit("A", "a3"), "a1");
  // Every address holds one: the oldest of all goes.
  const spread = new PendingHandshakes<string>(10, 3);
  admitAll(spread, "A", ["a1"]);
  admitAll(spread, "B", ["b1"]);
  admitAll(spread, "C", ["c1"]);
  assert.equal(spread.admit("D", "d1"), "a1");
  assert.equal(spread.admit("A", "a2"), "b1");
});

test("the caps on pending handshakes must be positive integers", async () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    await assert.rejects(
      TcpTransport.listen({ maxPendingPerAddress: bad }),
      (e) => e instanceof InvalidArgumentError && /maxPendingPerAddress/.test(e.message),
    );
    await assert.rejects(
      TcpTransport.listen({ maxPendingHandshakes: bad }),
      (e) => e instanceof InvalidArgumentError && /maxPendingHandshakes/.test(e.message),
    );
  }
});
