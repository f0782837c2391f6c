/** How long the event bus remembers a publish key (`NewBusEvent.key`), in milliseconds: 1 h. */
export const PUBLISH_KEY_TTL_MS = 3_600_000;
