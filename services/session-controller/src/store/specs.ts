/** session-controller's collection and its uniqueness rules, on memory and on MongoDB. */
import { type CollectionSpec, sharedSpecs } from "@lucid-rdp/storage";
import { liveSessionStates } from "../domain/session-values.js";
import type { SessionRecord } from "./records.js";

export const sessionSpec: CollectionSpec<SessionRecord> = {
  name: "sessions",
  // One live session per (user, server).
  unique: [
    {
      name: "user_server",
      key: (s) =>
        liveSessionStates.includes(s.state) && s.serverId !== undefined
          ? `${s.user}|${s.serverId}`
          : undefined,
    },
  ],
  indexes: ["user", "state", "serverId", "nextDeadline", "requestId", "outboxSince"],
};

/** Every collection session-controller uses. */
export const sessionControllerSpecs = { sessions: sessionSpec, ...sharedSpecs } as const;
