/**
 * P2PS for Deno: a peer-to-peer development platform. Create or join a structured overlay
 * network (a ring routed with the Tango finger scheme, a generalisation of Chord), send to a
 * node or to the node responsible for a key, multicast, broadcast, read the message and event
 * streams, and read statistics.
 *
 * @example Three nodes, a routed message
 * ```ts
 * import { createNet, joinNet } from "@p2ps/p2ps";
 * import assert from "node:assert/strict";
 *
 * await using n1 = await createNet({ node: { id: 1 } });
 * await using n2 = await joinNet(n1.ap, { node: { id: 16 } });
 * await using n3 = await joinNet(n2.ap);
 * const inbox = n2.messages({ signal: AbortSignal.timeout(10_000) }); // ends after 10 s at most
 * await n3.send(16, { hello: "world" });
 * const { value } = await inbox.next();
 * assert.deepEqual(value?.msg, { hello: "world" });
 * await inbox.return?.();
 * ```
 *
 * @module
 */

export { createNet, joinNet, parseAccessPoint } from "./lib/node/net.ts";
export {
  type BroadcastOptions,
  type Counters,
  MAX_KEY_LIMIT,
  type Message,
  type MulticastOptions,
  type NetOptions,
  type NodeInfo,
  type NodeOptions,
  P2PNode,
  type SendOptions,
  type Statistics,
  type SuccOptions,
  type TrafficKind,
} from "./lib/node/node.ts";
export type {
  DhtOptions,
  DhtStatistics,
  Entry,
  LookupOptions,
  WriteOptions,
  WriteReceipt,
} from "./lib/node/dht_calls.ts";
export type {
  AckOptions,
  DeliveryReport,
  KindCounters,
  MessageKind,
  Receipt,
} from "./lib/services/group.ts";
export type { NetInfo, RingStatus, RingTiming } from "./lib/core/ring.ts";
export {
  EVENT_TYPES,
  type EventTime,
  type FingerChange,
  type NodeEvent,
  type NodeEventType,
} from "./lib/core/events.ts";
export type { ReaderOptions } from "./lib/node/fanout.ts";
export { MemoryNetwork, type MemoryNetworkOptions } from "./lib/com/memory_network.ts";
export { MemoryTransport } from "./lib/com/memory.ts";
export { type CrossMessage, shardOfPort, type ShardOptions } from "./lib/com/memory_shard.ts";
export { ClockTask, VirtualClock } from "./lib/com/virtual_clock.ts";
export type {
  AccessPoint,
  Clock,
  Encryption,
  Frame,
  Hello,
  LinkSecurity,
  LinkStats,
  NodeRef,
  Timer,
  Transport,
  TransportEvents,
  WireLimits,
} from "./lib/com/transport.ts";
export type { FingerPolicyName } from "./lib/core/fingers.ts";
export {
  type Fields,
  type FieldSpec,
  type Flatten,
  type FrameName,
  type FrameOf,
  type FrameSpec,
  HOP_LIMIT,
  type RuleContext,
  SCHEMA,
  T,
  type ValueOf,
} from "./lib/wire/schema.ts";
export { Codec, type DecodeContext, type FrameReader } from "./lib/wire/codec.ts";
export { WireError } from "./lib/wire/cbor.ts";
export type { KeyPair } from "./lib/com/noise/crypto.ts";
export { generateStaticKeyPair, keyPairFromPrivate } from "./lib/com/noise/keys.ts";
export { hashKey } from "./lib/core/id_space.ts";
export { Simulator, type SimulatorOptions } from "./lib/node/simulator.ts";
export {
  ConnectError,
  DecryptError,
  FrameError,
  HandshakeError,
  InvalidArgumentError,
  JoinError,
  LinkLostError,
  MessageTooLargeError,
  NodeAbsentError,
  NodeClosedError,
  NoiseError,
  P2PSError,
  QuorumError,
  SendQueueFullError,
  TimeoutError,
  VersionConflictError,
} from "./lib/errors.ts";
