// A typical routed data frame, as `P2PNode.send` builds it.
import { encodeValue } from "../lib/com/framing.ts";
import { type DataFrame, dataFrame } from "../lib/core/messages.ts";

/**
 * A data frame carrying a message with a `payloadBytes`-byte byte string, several hops into its
 * route (so with its sender, which a first hop leaves out).
 */
export function sampleFrame(payloadBytes: number): DataFrame {
  const f = dataFrame(
    [2_718_281_828_459_045, "127.0.0.1", 41234],
    3_141_592_653_589_793,
    true,
    123_456,
    encodeValue({ d: 1, p: new Uint8Array(payloadBytes).fill(7) }),
  );
  f.h = 3;
  f.f = 7;
  return f;
}
