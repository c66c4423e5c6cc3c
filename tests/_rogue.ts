// Rogue peers for the simulator: a transport on the simulated network bound by the test itself,
// not by a node. It speaks the handshake with whatever hello and proof the test gives it, skips
// every check of its own (so that the honest side's refusal is tested alone), records what it
// receives, and sends any frame the test forges.
import type { Simulator } from "../lib/node/simulator.ts";
import type { MemoryTransport } from "../lib/com/memory.ts";
import {
  type Frame,
  type Hello,
  type NodeRef,
  PROTOCOL_MAGIC,
  PROTOCOL_VERSION,
} from "../lib/com/transport.ts";
import type { P2PNode } from "../lib/node/node.ts";

/** A rogue peer on a simulated network. */
export interface SimRogue {
  transport: MemoryTransport;
  /** How others address it. */
  ref: NodeRef;
  /** Frames received, in order. */
  frames: { from: number; frame: Frame }[];
  /** Links reported down. */
  downs: { peer: NodeRef; reason: string }[];
  /** The hellos of the peers it shook hands with. */
  hellos: Hello[];
  /** Sends a forged frame to `node`. */
  send(node: P2PNode | NodeRef, frame: Frame): void;
}

/** Options of {@linkcode simRogue}. */
export interface SimRogueOptions {
  /** Fields of its hello (over a plain, network-less default). */
  hello?: Partial<Hello>;
  /** Its proof of the network secret for a peer's hello (none by default). */
  prove?: (peer: Hello) => string | undefined;
  /** Sees the proof a peer sent over its hello (it accepts whatever it is). */
  sawProof?: (peer: Hello, proof: unknown) => void;
}

/** Creates a rogue peer with id `id` on `sim`'s network. */
export function simRogue(sim: Simulator, id: number, options: SimRogueOptions = {}): SimRogue {
  const transport = sim.network.transport();
  const rogue: SimRogue = {
    transport,
    ref: { id, ap: transport.ap },
    frames: [],
    downs: [],
    hellos: [],
    send: (node, frame) => transport.send({ id: node.id, ap: node.ap }, frame),
  };
  transport.bind({
    hello: () => ({
      magic: PROTOCOL_MAGIC,
      v: PROTOCOL_VERSION,
      name: "p2ps",
      net: null,
      id,
      ap: transport.ap,
      ...options.hello,
    }),
    checkHello: (peer) => {
      rogue.hellos.push(peer);
      return null;
    },
    prove: options.prove ?? (() => undefined),
    verify: (_mine, peer, proof) => {
      options.sawProof?.(peer, proof);
      return null;
    },
    frame: (from, frame) => rogue.frames.push({ from: from.id, frame }),
    peerDown: (peer, reason) => rogue.downs.push({ peer, reason }),
  });
  return rogue;
}
