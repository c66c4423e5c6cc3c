// Rogue peers for the simulator: a transport on the simulated network bound by the test itself,
// not by a node. It presents whatever hello the test gives it, skips every check of its own (so
// that the honest side's refusal is tested alone), records what it receives, and sends any frame
// the test forges.
import type { Simulator } from "../lib/node/simulator.ts";
import type { MemoryTransport } from "../lib/com/memory.ts";
import {
  type Frame,
  type Hello,
  type LinkSecurity,
  type NodeRef,
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
  /** Fields of its hello (over a default with no network). */
  hello?: Partial<Hello>;
  /** Its link security (a network secret's key, a static key pair). */
  security?: LinkSecurity;
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
  // A member of the simulation's network (the first node's), unless the test says otherwise.
  const net = sim.nodes[0]?.info().net;
  transport.bind({
    hello: () => ({
      v: PROTOCOL_VERSION,
      name: net?.name ?? "p2ps",
      net: net?.netId ?? "rogue",
      id,
      host: transport.ap.hostname,
      port: transport.ap.port,
      ...options.hello,
    }),
    checkHello: (peer) => {
      rogue.hellos.push(peer);
      return null;
    },
    limits: { maxKey: 2 ** 52 },
    security: options.security ?? { encryption: "noise", keyPair: null, psk: null },
    frame: (from, frame) => rogue.frames.push({ from: from.id, frame }),
    badFrame: () => {},
    peerDown: (peer, reason) => rogue.downs.push({ peer, reason }),
  });
  return rogue;
}
