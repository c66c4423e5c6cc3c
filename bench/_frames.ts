// A typical routed data frame, as `P2PNode.send` builds it.
import type { Frame } from "../lib/com/transport.ts";

/** A data frame carrying a `payloadBytes`-byte payload, several hops into its route. */
export function sampleFrame(payloadBytes: number): Frame {
  return {
    t: 13,
    k: 3_141_592_653_589_793,
    h: 3,
    ph: 0,
    f: 7,
    s: { id: 2_718_281_828_459_045, ap: { hostname: "127.0.0.1", port: 41234 } },
    r: true,
    id: 123_456,
    kd: "send",
    p: new Uint8Array(payloadBytes).fill(7),
  };
}
