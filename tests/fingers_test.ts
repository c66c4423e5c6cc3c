import assert from "node:assert/strict";
import { fingerPolicy, tangoDistances } from "../lib/core/fingers.ts";
import { RoutingTable } from "../lib/core/routing_table.ts";
import { addMod, cw } from "../lib/core/id_space.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { test } from "./_test.ts";

test("Tango distances follow d(n) = 2·(r(n-1) + 1): 1, 4, 12, 36, 108", () => {
  assert.deepEqual(tangoDistances(1000), [1, 4, 12, 36, 108, 324]);
  for (const [i, d] of tangoDistances(2 ** 52).entries()) {
    if (i >= 1) assert.equal(d, 4 * 3 ** (i - 1));
  }
});

test("each policy yields the offsets its paper defines", () => {
  const M = 64;
  assert.deepEqual(fingerPolicy("chord", M).offsets, [1, 2, 4, 8, 16, 32]);
  assert.deepEqual(fingerPolicy("tango", M).offsets, [1, -1, 4, -4, 12, -12]);
  assert.deepEqual(fingerPolicy("dks:4", M).offsets, [1, 2, 3, 4, 8, 12, 16, 32, 48]);
  assert.equal(fingerPolicy("fullmesh", M).keepAll, true);
  assert.throws(() => fingerPolicy("pastry", M), InvalidArgumentError);
  assert.throws(() => fingerPolicy("dks:1", M), /between 2 and 1024/);
});

/** Reference finger: the first node at or after `target` among `ids`, or null when it is `self`. */
function expectedFinger(ids: number[], self: number, target: number, M: number): number | null {
  let best = self;
  let bd = cw(target, self, M);
  for (const id of ids) {
    const d = cw(target, id, M);
    if (d < bd) {
      bd = d;
      best = id;
    }
  }
  return best === self ? null : best;
}

test("finger tables built by considerFinger equal the definition, for every policy and node of small rings", () => {
  const M = 81;
  for (const name of ["tango", "chord", "dks:3", "dks:4"]) {
    for (const ids of [[0, 5], [3, 10, 40, 41, 80], Array.from({ length: 27 }, (_, i) => i * 3)]) {
      for (const self of ids) {
        const policy = fingerPolicy(name, M);
        const tb = new RoutingTable({ id: self, ap: { hostname: "h", port: 1 } }, M, policy, 4);
        // Feed nodes in a scrambled order: the result must not depend on it.
        for (const id of [...ids].reverse()) {
          tb.considerFinger({ id, ap: { hostname: "h", port: 1 } });
        }
        for (let i = 0; i < policy.offsets.length; i++) {
          const target = addMod(self, policy.offsets[i], M);
          assert.equal(
            tb.fingers[i]?.id ?? null,
            expectedFinger(ids.filter((x) => x !== self), self, target, M),
            `${name} node ${self} target ${target}`,
          );
        }
      }
    }
  }
});

test("the default space's policies are one frozen object shared by every node", () => {
  const M = 2 ** 52;
  const tango = fingerPolicy("tango", M);
  const chord = fingerPolicy("chord", M);
  assert.equal(fingerPolicy("tango", M), tango);
  assert.equal(fingerPolicy("chord", M), chord);
  for (const p of [tango, chord]) assert.ok(Object.isFrozen(p) && Object.isFrozen(p.offsets));
  assert.deepEqual(tango.offsets, tangoDistances(M).flatMap((d) => [d, -d]));
  assert.deepEqual(chord.offsets, Array.from({ length: 52 }, (_, i) => 2 ** i));
  assert.notEqual(fingerPolicy("tango", 64), fingerPolicy("tango", 64));
});
