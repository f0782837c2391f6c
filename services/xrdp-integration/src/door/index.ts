/** The RDP front door: RdpDoor and the types of its interface. */
export type {
  DoorConnection,
  DoorLimits,
  DoorLookup,
  DoorPeer,
  DoorRefusal,
  DoorRefusalReason,
  RdpDoorOptions,
} from "./door-types.js";
export { RdpDoor, rdpFirstByte } from "./rdp-door.js";
export { routingTokenOf, tokenHash } from "./routing-token.js";
export { sourceKey } from "./source-key.js";
