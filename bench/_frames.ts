// A typical routed data frame, as `P2PNode.send` builds it, and the codec the library uses.
import { Codec } from "../lib/wire/codec.ts";
import type { DataFrame } from "../lib/wire/schema.ts";
import { T } from "../lib/wire/schema.ts";
import { encodeValue } from "../lib/wire/values.ts";

/** The wire codec (compiled once per process). */
export const codec: Codec = new Codec();

/**
 * A data frame carrying a message with a `payloadBytes`-byte byte string, several hops into its
 * route (so with its sender, which a first hop leaves out).
 */
export function sampleFrame(payloadBytes: number): DataFrame {
  return {
    t: T.Data,
    k: 3_141_592_653_589_793 % 2 ** 52,
    h: 3,
    ph: 0,
    f: 7,
    s: { id: 2_718_281_828_459_045 % 2 ** 52, ap: { hostname: "127.0.0.1", port: 41234 } },
    r: true,
    id: 123_456,
    q: undefined,
    lo: undefined,
    ps: [encodeValue({ d: 1, p: new Uint8Array(payloadBytes).fill(7) })],
  };
}

/** What frames from the sample's sender are checked against. */
export const sampleContext = {
  maxKey: 2 ** 52,
  peer: { id: 1, ap: { hostname: "127.0.0.1", port: 1 } },
};
