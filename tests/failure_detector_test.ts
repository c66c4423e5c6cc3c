// The failure detector's rules, as plain bookkeeping over explicit times: a peer is pinged after
// a heartbeat period of silence and suspected only once that ping went unanswered for the
// timeout; the timeout follows measured round trips; time this node could not listen is not its
// peers' silence.
import assert from "node:assert/strict";
import { FailureDetector, type Verdict } from "../lib/core/failure_detector.ts";
import { seededRandom } from "../lib/com/virtual_clock.ts";
import { test } from "./_test.ts";

const OPTIONS = { heartbeatMs: 1000, minTimeoutMs: 3000 };

/** What the ring does on each check: ping when told to; the verdicts, in order. */
function checks(d: FailureDetector, id: number, times: number[], scale = 1): Verdict[] {
  return times.map((now) => {
    const v = d.check(id, now, scale);
    if (v === "ping") d.pinged(id, now);
    return v;
  });
}

test("a silent peer is pinged after a heartbeat period and suspected only a timeout after that ping", () => {
  const d = new FailureDetector(OPTIONS);
  assert.deepEqual(
    checks(d, 7, [0, 500, 999, 1000, 1500, 2000, 3000, 4000, 4001]),
    ["ok", "ok", "ok", "ping", "ok", "ping", "ping", "ping", "suspect"],
  );
  assert.equal(d.silence(7), 4000, "reported: a heartbeat period and a timeout");
});

test("a peer that was never pinged is not suspected, however long it was silent", () => {
  const d = new FailureDetector(OPTIONS);
  assert.equal(d.check(7, 0), "ok");
  // The node did not ping (its checks did not run): the first check after a long silence pings.
  assert.equal(d.check(7, 60_000), "ping");
  d.pinged(7, 60_000);
  assert.equal(d.check(7, 63_000), "ping");
  assert.equal(d.check(7, 63_001), "suspect");
});

test("anything heard from a peer answers its ping: the wait for the timeout starts over", () => {
  const d = new FailureDetector(OPTIONS);
  let now = 0;
  const clock = { now: () => now };
  assert.deepEqual(checks(d, 7, [0, 1000, 2000]), ["ok", "ping", "ping"]);
  now = 3500;
  d.heard(7, clock);
  assert.deepEqual(checks(d, 7, [4000, 4500, 5500, 7500, 7501]), [
    "ok",
    "ping",
    "ping",
    "ping",
    "suspect",
  ]);
  // A peer nobody watches is not recorded (heard() only refreshes peers being checked).
  now = 9000;
  d.heard(8, clock);
  assert.equal(d.check(8, 9500), "ok", "first seen at its first check");
});

test("fingers are checked at a stretched period: pinged after five periods of silence", () => {
  const d = new FailureDetector(OPTIONS);
  assert.deepEqual(checks(d, 7, [0, 4999, 5000, 6000, 8000, 8001], 5), [
    "ok",
    "ok",
    "ping",
    "ping",
    "ping",
    "suspect",
  ]);
  assert.equal(d.silence(7, 5), 8000);
});

test("the timeout follows round trips (smoothed round trip plus four deviations), never below minTimeoutMs", () => {
  const d = new FailureDetector(OPTIONS);
  assert.equal(d.timeout(7), 3000, "nothing measured yet");
  d.roundTrip(7, 100, 0);
  assert.equal(d.timeout(7), 3000, "100 + 4 · 50 is below the floor");
  const slow = new FailureDetector(OPTIONS);
  slow.roundTrip(7, 2000, 0);
  assert.equal(slow.timeout(7), 6000, "2000 + 4 · 1000");
  slow.roundTrip(7, 2000, 0);
  assert.equal(slow.timeout(7), 5000, "the deviation shrinks to 750 when the samples agree");
  assert.deepEqual(checks(slow, 7, [0, 1000, 6000, 6001]), ["ok", "ping", "ping", "suspect"]);
});

test("time this node could not listen is discounted: a ping out when it stalled is not held against the peer", () => {
  const d = new FailureDetector(OPTIONS);
  assert.deepEqual(checks(d, 7, [0, 1000]), ["ok", "ping"]);
  // The event loop stalled from 1000 to 9000: the check due at 2000 runs 7000 ms late, and the
  // answer may be waiting unread in the socket.
  d.discount(7000);
  assert.notEqual(d.check(7, 9000), "suspect");
  // Once it listens again, the peer has its full timeout.
  assert.deepEqual(checks(d, 7, [11_000, 11_001]), ["ping", "suspect"]);
  // A peer heard just before a stall is not even pinged right after it.
  const e = new FailureDetector(OPTIONS);
  assert.equal(e.check(8, 0), "ok");
  e.discount(4500);
  assert.equal(e.check(8, 5000), "ok");
  // No lateness, no change; a negative or missing one is ignored.
  e.discount(0);
  e.discount(-5);
  e.discount(NaN);
  assert.equal(e.check(8, 5499), "ok");
  assert.equal(e.check(8, 5500), "ping");
});

test("a dropped peer starts over as if first seen", () => {
  const d = new FailureDetector(OPTIONS);
  assert.deepEqual(checks(d, 7, [0, 1000]), ["ok", "ping"]);
  d.roundTrip(7, 2000, 1000);
  d.drop(7);
  assert.equal(d.timeout(7), 3000);
  assert.deepEqual(checks(d, 7, [10_000, 10_999, 11_000]), ["ok", "ok", "ping"]);
});

/** The specification: a record per watched peer in a map (what the detector keeps, plainly). */
class ReferenceDetector {
  #peers = new Map<
    number,
    { last: number; pingedAt: number; lastPing: number; srtt: number; rttvar: number }
  >();

  #peer(id: number, now: number) {
    let p = this.#peers.get(id);
    if (!p) {
      this.#peers.set(id, p = { last: now, pingedAt: NaN, lastPing: NaN, srtt: 0, rttvar: 0 });
    }
    return p;
  }

  heard(id: number, now: number): void {
    const p = this.#peers.get(id);
    if (p) {
      p.last = now;
      p.pingedAt = NaN;
    }
  }

  pinged(id: number, now: number): void {
    const p = this.#peer(id, now);
    if (Number.isNaN(p.pingedAt)) p.pingedAt = now;
    p.lastPing = now;
  }

  roundTrip(id: number, ms: number, now: number): void {
    const p = this.#peer(id, now);
    if (p.srtt === 0) {
      p.srtt = ms;
      p.rttvar = ms / 2;
    } else {
      p.rttvar = 0.75 * p.rttvar + 0.25 * Math.abs(p.srtt - ms);
      p.srtt = 0.875 * p.srtt + 0.125 * ms;
    }
  }

  timeout(id: number): number {
    const p = this.#peers.get(id);
    return Math.max(OPTIONS.minTimeoutMs, p ? p.srtt + 4 * p.rttvar : 0);
  }

  check(id: number, now: number, scale: number): Verdict {
    const p = this.#peer(id, now);
    if (now - p.last < OPTIONS.heartbeatMs * scale) return "ok";
    if (Number.isNaN(p.pingedAt)) return "ping";
    if (now - p.pingedAt > this.timeout(id)) return "suspect";
    return now - p.lastPing >= OPTIONS.heartbeatMs ? "ping" : "ok";
  }

  discount(ms: number): void {
    for (const p of this.#peers.values()) {
      p.last += ms;
      if (!Number.isNaN(p.pingedAt)) p.pingedAt += ms;
    }
  }

  drop(id: number): void {
    this.#peers.delete(id);
  }
}

test("the detector's flat arrays answer as a map of per-peer records would, under random evidence", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = seededRandom(seed);
    const ids = Array.from(
      { length: 40 },
      (_, i) => (i % 3 === 0 ? i : Math.floor(random() * 2 ** 52)),
    );
    const d = new FailureDetector(OPTIONS);
    const ref = new ReferenceDetector();
    let now = 0;
    const clock = { now: () => now };
    for (let step = 0; step < 3000; step++) {
      now += Math.floor(random() * 400);
      // Runs of evidence from one peer, as frames come, exercise the detector's one-entry cache.
      const id = ids[Math.floor(random() * (step % 50 < 25 ? 3 : ids.length))];
      const scale = random() < 0.5 ? 1 : 5;
      const at = `seed ${seed} step ${step}`;
      const r = random();
      if (r < 0.35) {
        d.heard(id, clock);
        ref.heard(id, now);
      } else if (r < 0.45) {
        const ms = 1 + random() * 3000;
        d.roundTrip(id, ms, now);
        ref.roundTrip(id, ms, now);
      } else if (r < 0.8) {
        const v = d.check(id, now, scale);
        assert.equal(v, ref.check(id, now, scale), at);
        if (v === "ping") {
          d.pinged(id, now);
          ref.pinged(id, now);
        }
      } else if (r < 0.88) {
        assert.equal(d.timeout(id), ref.timeout(id), at);
      } else if (r < 0.92) {
        const ms = Math.floor(random() * 5000);
        d.discount(ms);
        ref.discount(ms);
      } else {
        d.drop(id);
        ref.drop(id);
      }
    }
  }
});
