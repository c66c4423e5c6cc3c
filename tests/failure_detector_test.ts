import assert from "node:assert/strict";
import { FailureDetector } from "../lib/core/failure_detector.ts";
import { seededRandom } from "../lib/com/virtual_clock.ts";

const options = { heartbeatMs: 1000, minTimeoutMs: 1000 };

/** The specification: a record per watched peer in a map (what the detector keeps, plainly). */
class ReferenceDetector {
  #peers = new Map<number, { last: number; srtt: number; rttvar: number }>();

  #peer(id: number, now: number) {
    let p = this.#peers.get(id);
    if (!p) this.#peers.set(id, p = { last: now, srtt: 0, rttvar: 0 });
    return p;
  }

  heard(id: number, now: number): void {
    const p = this.#peers.get(id);
    if (p) p.last = now;
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

  timeout(id: number, scale = 1): number {
    const p = this.#peers.get(id);
    const adaptive = p ? p.srtt + 4 * p.rttvar : 0;
    return options.heartbeatMs * scale + Math.max(options.minTimeoutMs, adaptive);
  }

  check(id: number, now: number, scale = 1): string {
    const p = this.#peer(id, now);
    const silent = now - p.last;
    if (silent > this.timeout(id, scale)) return "suspect";
    return silent >= options.heartbeatMs * scale ? "ping" : "ok";
  }

  drop(id: number): void {
    this.#peers.delete(id);
  }
}

Deno.test("the failure detector answers as a map of per-peer records would, under random evidence", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = seededRandom(seed);
    const ids = Array.from(
      { length: 40 },
      (_, i) => (i % 3 === 0 ? i : Math.floor(random() * 2 ** 52)),
    );
    const d = new FailureDetector(options);
    const ref = new ReferenceDetector();
    let now = 0;
    const clock = { now: () => now };
    for (let step = 0; step < 3000; step++) {
      now += Math.floor(random() * 400);
      // Runs of evidence from one peer, as frames come, exercise the detector's one-entry cache.
      const id = ids[Math.floor(random() * (step % 50 < 25 ? 3 : ids.length))];
      const scale = random() < 0.5 ? 1 : 5;
      const r = random();
      if (r < 0.4) {
        d.heard(id, clock);
        ref.heard(id, now);
      } else if (r < 0.55) {
        const ms = 1 + random() * 50;
        d.roundTrip(id, ms, now);
        ref.roundTrip(id, ms, now);
      } else if (r < 0.85) {
        assert.equal(
          d.check(id, now, scale),
          ref.check(id, now, scale),
          `seed ${seed} step ${step}`,
        );
      } else if (r < 0.93) {
        assert.equal(d.timeout(id, scale), ref.timeout(id, scale), `seed ${seed} step ${step}`);
      } else {
        d.drop(id);
        ref.drop(id);
      }
    }
  }
});

Deno.test("a peer is pinged after a heartbeat of silence and suspected after the timeout on top", () => {
  const d = new FailureDetector(options);
  const clock = { now: () => 0 };
  assert.equal(d.check(7, 0), "ok");
  assert.equal(d.check(7, 999), "ok");
  assert.equal(d.check(7, 1000), "ping");
  clock.now = () => 1500;
  d.heard(7, clock);
  assert.equal(d.check(7, 2499), "ok");
  assert.equal(d.check(7, 3501), "suspect");
  d.drop(7);
  assert.equal(d.check(7, 10_000), "ok", "a dropped peer starts afresh");
});
