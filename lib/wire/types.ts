/**
 * The plain data the wire carries besides frames: where a node listens, and a node as others
 * know it.
 *
 * @module
 */

/** Where a node accepts connections. */
export interface AccessPoint {
  /** Host name or address. */
  hostname: string;
  /** TCP port (or the simulator's address). */
  port: number;
}

/** A node as others know it: its id and its access point. */
export interface NodeRef {
  /** The node's id on the ring. */
  id: number;
  /** Where it accepts connections. */
  ap: AccessPoint;
}

/** Whether `a` and `b` name the same node at the same access point. */
export function sameNode(a: NodeRef, b: NodeRef): boolean {
  return a === b ||
    (a.id === b.id && a.ap.port === b.ap.port && a.ap.hostname === b.ap.hostname);
}
