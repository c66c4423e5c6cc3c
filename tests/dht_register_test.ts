import assert from "node:assert/strict";
import { seededRandom } from "../lib/com/virtual_clock.ts";
import {
  accept,
  type Answer,
  applyIntent,
  compareBallots,
  emptyRegister,
  highest,
  type Intent,
  learn,
  merge,
  prepare,
  readOutcome,
  type Register,
  type RegisterState,
  WRITER_HISTORY,
} from "../lib/services/dht/register.ts";
import { majority } from "../lib/services/dht/replicas.ts";
import { test } from "./_test.ts";

const bytes = (n: number) => new Uint8Array([n]);
const state = (ver: number, ws: readonly number[], val: Uint8Array | null): RegisterState => ({
  ver,
  ws,
  val,
});

test("ballots compare by counter, then by tag", () => {
  assert.ok(compareBallots(1, 9, 2, 0) < 0);
  assert.ok(compareBallots(2, 1, 2, 0) > 0);
  assert.equal(compareBallots(3, 3, 3, 3), 0);
});

test("prepare promises a ballot at or above the promise, and nothing lower, for every pair on a small grid", () => {
  for (let pc = 0; pc < 4; pc++) {
    for (let pt = 0; pt < 3; pt++) {
      for (let c = 0; c < 4; c++) {
        for (let t = 0; t < 3; t++) {
          const r = { ...emptyRegister(), pc, pt };
          const ok = prepare(r, c, t);
          assert.equal(ok, compareBallots(c, t, pc, pt) >= 0);
          if (ok) assert.deepEqual([r.pc, r.pt], [c, t]);
          else assert.deepEqual([r.pc, r.pt], [pc, pt]);
          assert.deepEqual(
            [r.ac, r.at, r.ver],
            [0, 0, 0],
            "prepare never changes what was accepted",
          );
        }
      }
    }
  }
});

test("accept takes a state at or above the promise and raises the promise to it; a lower ballot changes nothing", () => {
  for (let pc = 0; pc < 4; pc++) {
    for (let c = 0; c < 4; c++) {
      const r: Register = { ...emptyRegister(), pc, pt: 1 };
      const s = state(5, [7], bytes(1));
      const ok = accept(r, c, 1, s);
      assert.equal(ok, c >= pc);
      if (ok) assert.deepEqual(r, { pc: c, pt: 1, ac: c, at: 1, ver: 5, ws: [7], val: bytes(1) });
      else assert.deepEqual(r, { ...emptyRegister(), pc, pt: 1 });
    }
  }
});

test("learn takes a chosen state newer than the accepted one, whatever was promised", () => {
  const r: Register = { pc: 9, pt: 9, ac: 2, at: 1, ver: 1, ws: [1], val: bytes(1) };
  assert.ok(learn(r, 3, 1, state(2, [2, 1], bytes(2))));
  assert.deepEqual([r.ac, r.at, r.ver, r.pc], [3, 1, 2, 9], "promise kept (it is higher)");
  assert.ok(!learn(r, 3, 1, state(2, [2, 1], bytes(2))), "the same ballot again changes nothing");
  assert.ok(!learn(r, 2, 5, state(9, [9], bytes(9))), "an older ballot changes nothing");
  const low: Register = { ...emptyRegister() };
  learn(low, 4, 2, state(1, [1], null));
  assert.deepEqual([low.pc, low.pt], [4, 2], "the promise rises to a learnt ballot");
});

test("merge: a newer accepted state not below our promise is taken, promises only rise, and accepted ≤ promise holds", () => {
  // Every combination of small ballots on both sides.
  const bal = [[0, 0], [1, 1], [1, 2], [2, 1]];
  for (const [pc, pt] of bal) {
    for (const [ac, at] of bal.filter(([c, t]) => compareBallots(c, t, pc, pt) <= 0)) {
      for (const [opc, opt] of bal) {
        for (const [oac, oat] of bal.filter(([c, t]) => compareBallots(c, t, opc, opt) <= 0)) {
          const r: Register = { pc, pt, ac, at, ver: 1, ws: [1], val: bytes(1) };
          const o: Register = {
            pc: opc,
            pt: opt,
            ac: oac,
            at: oat,
            ver: 2,
            ws: [2],
            val: bytes(2),
          };
          const m = merge(r, o);
          const takes = compareBallots(oac, oat, ac, at) > 0 &&
            compareBallots(oac, oat, pc, pt) >= 0;
          assert.equal(m === 2, takes);
          assert.equal(r.ver, takes ? 2 : 1);
          const maxP = compareBallots(opc, opt, pc, pt) > 0 ? [opc, opt] : [pc, pt];
          assert.ok(
            compareBallots(r.pc, r.pt, maxP[0], maxP[1]) >= 0,
            "promise is at least the higher one",
          );
          assert.ok(
            compareBallots(r.ac, r.at, r.pc, r.pt) <= 0,
            "accepted never above the promise",
          );
          if (m === 0) assert.deepEqual([r.pc, r.pt, r.ac, r.at], [pc, pt, ac, at]);
        }
      }
    }
  }
});

const ans = (i: number, ac: number, at: number, ver = ac): Answer => ({
  i,
  ac,
  at,
  ver,
  ws: [ver],
  val: bytes(ver),
});

test("highest picks the answer with the highest accepted ballot", () => {
  assert.equal(highest([]), null);
  assert.equal(highest([ans(0, 1, 5), ans(1, 2, 1), ans(2, 2, 0)])!.i, 1);
});

test("a read decides once a majority report one ballot, lists the stale replicas, and gives up when no ballot can reach a majority", () => {
  const f = 4;
  const need = majority(f);
  assert.deepEqual(readOutcome([ans(0, 2, 1), ans(1, 2, 1)], f, need).chosen, null);
  assert.equal(readOutcome([ans(0, 2, 1), ans(1, 2, 1)], f, need).hopeless, false);
  const out = readOutcome([ans(0, 2, 1), ans(1, 1, 1), ans(2, 2, 1), ans(3, 2, 1)], f, need);
  assert.equal(out.chosen?.ac, 2);
  assert.deepEqual(out.stale.map((a) => a.i), [1]);
  // 2 + 1 + 1 answered with different ballots: no ballot can reach 3 of 4.
  assert.ok(
    readOutcome([ans(0, 2, 1), ans(1, 2, 1), ans(2, 3, 1), ans(3, 1, 1)], f, need).hopeless,
  );
  assert.ok(readOutcome([ans(0, 2, 1), ans(1, 3, 1), ans(2, 1, 1)], f, need).hopeless);
  assert.ok(!readOutcome([ans(0, 2, 1), ans(1, 2, 1), ans(2, 3, 1)], f, need).hopeless);
  // A higher ballot held by a minority (a write in flight) does not hide the chosen one.
  const inFlight = readOutcome([ans(0, 2, 1), ans(1, 2, 1), ans(2, 2, 1), ans(3, 5, 1)], f, need);
  assert.equal(inFlight.chosen?.ac, 2);
  assert.deepEqual(inFlight.stale, []);
  // Nothing ever accepted anywhere: the key is absent.
  assert.equal(readOutcome([0, 1, 2].map((i) => ans(i, 0, 0, 0)), f, need).chosen?.ver, 0);
});

test("change functions: insert, remove, compare-and-set and a write already in", () => {
  const absent = state(0, [], null);
  const one = state(1, [11], bytes(1));
  const tomb = state(2, [12, 11], null);
  const ins = (w: number, ifVersion?: number): Intent => ({
    op: "insert",
    w,
    val: bytes(9),
    ifVersion,
  });
  assert.deepEqual(applyIntent(absent, ins(5)), { kind: "write", next: state(1, [5], bytes(9)) });
  assert.deepEqual(applyIntent(one, ins(5)), { kind: "write", next: state(2, [5, 11], bytes(9)) });
  assert.deepEqual(applyIntent(tomb, ins(5, 0)), {
    kind: "write",
    next: state(3, [5, 12, 11], bytes(9)),
  }, "a removed key is absent: ifVersion 0 matches, the version keeps growing");
  assert.deepEqual(applyIntent(one, ins(5, 0)), { kind: "conflict", current: 1 });
  assert.deepEqual(applyIntent(absent, ins(5, 3)), { kind: "conflict", current: 0 });
  assert.deepEqual(applyIntent(tomb, ins(5, 2)), { kind: "conflict", current: 0 });
  assert.deepEqual(applyIntent(one, ins(5, 1)).kind, "write");
  // Remove: a tombstone with a new version; an absent key is written back unchanged.
  assert.deepEqual(applyIntent(one, { op: "remove", w: 6 }), {
    kind: "write",
    next: state(2, [6, 11], null),
  });
  assert.deepEqual(applyIntent(tomb, { op: "remove", w: 6 }), { kind: "write", next: tomb });
  assert.deepEqual(applyIntent(one, { op: "remove", w: 6, ifVersion: 2 }), {
    kind: "conflict",
    current: 1,
  });
  // A retry finds its own write, at the version it made.
  const later = state(4, [13, 12, 5, 11], bytes(3));
  assert.deepEqual(applyIntent(later, ins(5, 1)), { kind: "done", version: 2 });
  assert.deepEqual(applyIntent(later, { op: "read", w: 5 }), { kind: "write", next: later });
  // The history is bounded.
  let s = absent;
  for (let w = 1; w <= WRITER_HISTORY + 5; w++) {
    const c = applyIntent(s, ins(w));
    assert.equal(c.kind, "write");
    s = (c as { next: RegisterState }).next;
  }
  assert.equal(s.ws.length, WRITER_HISTORY);
  assert.equal(s.ws[0], WRITER_HISTORY + 5);
});

/**
 * A model check of the rules: proposers running compare-and-set increments against f acceptors
 * through a network that reorders, loses and duplicates messages, with the proposer's decisions
 * (majorities, highest answer, change function, a chosen majority finishing without an accept
 * round, retries with a higher ballot). Checked: one chosen state per version, and every
 * reported success is the writer of its version in the final chain.
 */
function modelRun(seed: number, f: number, proposers: number, opsEach: number) {
  const random = seededRandom(seed);
  const need = majority(f);
  const acceptors = Array.from({ length: f }, () => emptyRegister());
  type Msg = { to: "a" | "p"; dst: number; m: Record<string, unknown> };
  const bag: Msg[] = [];
  const chosenByVersion = new Map<number, number>();
  const successes: { w: number; version: number }[] = [];
  let counter = 0;
  interface P {
    id: number;
    ops: number;
    w: number;
    ifVersion: number;
    q: number;
    phase: "idle" | "prepare" | "accept";
    c: number;
    answers: Map<number, Answer>;
    oks: Set<number>;
    refused: Set<number>;
    next: RegisterState | null;
    change: ReturnType<typeof applyIntent> | null;
  }
  const ps: P[] = Array.from({ length: proposers }, (_, id) => ({
    id,
    ops: opsEach,
    w: 0,
    ifVersion: 0,
    q: 0,
    phase: "idle",
    c: 0,
    answers: new Map(),
    oks: new Set(),
    refused: new Set(),
    next: null,
    change: null,
  }));
  // A ballot accepted by a majority (at any times) is chosen: its version has one writer forever.
  const acceptedBy = new Map<string, Set<number>>();
  const noteAccepted = (i: number, a: Register) => {
    const k = `${a.ac}:${a.at}`;
    const set = acceptedBy.get(k) ?? new Set<number>();
    acceptedBy.set(k, set.add(i));
    if (set.size < need) return;
    const prev = chosenByVersion.get(a.ver);
    assert.ok(
      prev === undefined || prev === a.ws[0],
      `seed ${seed}: version ${a.ver} chosen twice`,
    );
    chosenByVersion.set(a.ver, a.ws[0]);
  };
  const startPrepare = (p: P) => {
    p.c = ++counter;
    p.q++;
    p.phase = "prepare";
    p.answers.clear();
    p.refused.clear();
    for (let i = 0; i < f; i++) {
      bag.push({ to: "a", dst: i, m: { t: "prep", c: p.c, t2: p.id, q: p.q, p: p.id } });
    }
  };
  const startOp = (p: P) => {
    if (p.ops-- <= 0) return void (p.phase = "idle");
    p.w = 1000 * (p.id + 1) + p.ops;
    // Compare-and-set against the version it believes current (its last outcome).
    startPrepare(p);
  };
  const finish = (p: P) => {
    const ch = p.change!;
    if (ch.kind === "write" && p.ifVersion >= 0) successes.push({ w: p.w, version: ch.next.ver });
    if (ch.kind === "done") successes.push({ w: p.w, version: ch.version });
    if (ch.kind === "conflict") p.ifVersion = ch.current;
    else p.ifVersion = ch.kind === "write" ? ch.next.ver : ch.version;
    p.phase = "idle";
    startOp(p);
  };
  for (const p of ps) startOp(p);
  for (let steps = 0; bag.length > 0 && steps < 200_000; steps++) {
    const idx = Math.floor(random() * bag.length);
    const msg = bag[idx];
    bag[idx] = bag[bag.length - 1];
    bag.pop();
    const roll = random();
    if (roll < 0.1) continue; // lost
    if (roll < 0.15) bag.push(msg); // duplicated
    const m = msg.m;
    if (msg.to === "a") {
      const a = acceptors[msg.dst];
      if (m.t === "prep") {
        const ok = prepare(a, m.c as number, m.t2 as number);
        bag.push({ to: "p", dst: m.p as number, m: { t: "prom", i: msg.dst, q: m.q, ok, ...a } });
      } else {
        const ok = accept(a, m.c as number, m.t2 as number, m.s as RegisterState);
        if (ok) noteAccepted(msg.dst, a);
        bag.push({ to: "p", dst: m.p as number, m: { t: "acc", i: msg.dst, q: m.q, ok } });
      }
      continue;
    }
    const p = ps[msg.dst];
    if (m.q !== p.q) continue;
    const i = m.i as number;
    if (m.t === "prom" && p.phase === "prepare") {
      if (!m.ok) p.refused.add(i);
      else {p.answers.set(i, {
          i,
          ac: m.ac as number,
          at: m.at as number,
          ver: m.ver as number,
          ws: m.ws as number[],
          val: m.val as Uint8Array | null,
        });}
      if (p.refused.size > f - need) startPrepare(p);
      else if (p.answers.size >= need) {
        const answers = [...p.answers.values()];
        const cur = highest(answers)!;
        const s = state(cur.ver, cur.ws, cur.val);
        p.change = applyIntent(s, {
          op: "insert",
          w: p.w,
          val: bytes(p.id),
          ifVersion: p.ifVersion,
        });
        p.next = p.change.kind === "write" ? p.change.next : s;
        const chosen = answers.every((x) => x.ac === cur.ac && x.at === cur.at);
        if (chosen && p.change.kind !== "write") finish(p);
        else {
          p.phase = "accept";
          p.q++;
          p.oks.clear();
          p.refused.clear();
          for (let j = 0; j < f; j++) {
            bag.push({
              to: "a",
              dst: j,
              m: { t: "acc", c: p.c, t2: p.id, q: p.q, p: p.id, s: p.next },
            });
          }
        }
      }
    } else if (m.t === "acc" && p.phase === "accept") {
      if (m.ok) p.oks.add(i);
      else p.refused.add(i);
      if (p.oks.size >= need) finish(p);
      else if (p.refused.size > f - need) startPrepare(p);
    }
    // Lost messages leave a proposer waiting: a retransmission timeout restarts its round.
    if (bag.length === 0) { for (const x of ps) if (x.phase !== "idle") startPrepare(x); }
  }
  // The final chain: the state a majority holds now, its writer history newest first.
  const final = highest(acceptors.map((a, i) => ({ i, ...a })))!;
  return { successes, chosenByVersion, final };
}

test("model check: compare-and-set proposers over a lossy, reordering, duplicating network never choose two states for one version, and every reported success is in the final chain", () => {
  for (let seed = 1; seed <= 60; seed++) {
    for (const f of [3, 4, 5]) {
      const { successes, chosenByVersion, final } = modelRun(seed, f, 4, 6);
      const versions = successes.map((s) => s.version);
      assert.equal(
        new Set(versions).size,
        versions.length,
        `seed ${seed} f ${f}: one winner per version`,
      );
      for (const { w, version } of successes) {
        assert.equal(chosenByVersion.get(version), w, `seed ${seed} f ${f}: success at ${version}`);
        const depth = final.ver - version;
        if (depth < final.ws.length) assert.equal(final.ws[depth], w);
      }
    }
  }
});
