/**
 * Proto <-> domain for xrdp-integration. Responses are built by whitelisting fields, so a new
 * internal field of a record can never leak to a client.
 */
import { create } from "@bufbuild/protobuf";
import { type Duration, DurationSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Connection,
  ConnectionSchema,
  CryptLevel,
  EndpointSchema,
  type Instance,
  InstanceSchema,
  InstanceState,
  InstanceStateReason,
  ProcessExitSchema,
  SecurityLayer,
  TlsProtocol,
  type XrdpSettings as XrdpSettingsMessage,
  XrdpSettingsSchema,
} from "@lucid-rdp/gen";
import type { XrdpSettings } from "../domain/xrdp-settings.js";
import type { InstanceRecord } from "../store/records.js";

const securityLayers = {
  [SecurityLayer.UNSPECIFIED]: undefined,
  [SecurityLayer.RDP]: "rdp",
  [SecurityLayer.TLS]: "tls",
  [SecurityLayer.NEGOTIATE]: "negotiate",
} as const;
const cryptLevels = {
  [CryptLevel.UNSPECIFIED]: undefined,
  [CryptLevel.LOW]: "low",
  [CryptLevel.MEDIUM]: "medium",
  [CryptLevel.HIGH]: "high",
  [CryptLevel.FIPS]: "fips",
} as const;
const tlsProtocols = {
  [TlsProtocol.UNSPECIFIED]: undefined,
  [TlsProtocol.TLS1_2]: "TLSv1.2",
  [TlsProtocol.TLS1_3]: "TLSv1.3",
} as const;

function reverse<K extends string | number, V extends string>(m: Record<K, V | undefined>) {
  return Object.fromEntries(
    Object.entries(m)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [v, Number(k)]),
  ) as Record<V, K>;
}
const securityLayerOf = reverse(securityLayers);
const cryptLevelOf = reverse(cryptLevels);
const tlsProtocolOf = reverse(tlsProtocols);

function seconds(d: Duration | undefined): number | undefined {
  return d === undefined ? undefined : Number(d.seconds) + d.nanos / 1e9;
}
function duration(sec: number | undefined): Duration | undefined {
  return sec === undefined
    ? undefined
    : create(DurationSchema, { seconds: BigInt(Math.floor(sec)) });
}
const nonEmpty = (s: string) => (s === "" ? undefined : s);
const nonZero = (n: number) => (n === 0 ? undefined : n);

/** The domain settings a StartInstance request asks for; unset fields stay unset. */
export function settingsFromProto(m: XrdpSettingsMessage | undefined): XrdpSettings {
  if (m === undefined) return {};
  const s: XrdpSettings = {
    securityLayer: securityLayers[m.securityLayer],
    cryptLevel: cryptLevels[m.cryptLevel],
    tlsProtocols:
      m.tlsProtocols.length > 0
        ? m.tlsProtocols.map((p) => tlsProtocols[p]).filter((p) => p !== undefined)
        : undefined,
    tlsCiphers: m.tlsCiphers.length > 0 ? [...m.tlsCiphers] : undefined,
    tlsCertPath: nonEmpty(m.tlsCertPath),
    tlsKeyPath: nonEmpty(m.tlsKeyPath),
    maxBpp: nonZero(m.maxBpp),
    maxSessions: nonZero(m.maxSessions),
    allowRootLogin: m.allowRootLogin,
    idleTimeLimitSec: seconds(m.idleTimeLimit),
    disconnectedTimeLimitSec: seconds(m.disconnectedTimeLimit),
    killDisconnected: m.killDisconnected,
    allowMultimon: m.allowMultimon,
    clipboard: m.clipboard,
    driveRedirection: m.driveRedirection,
    audio: m.audio,
  };
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as XrdpSettings;
}

/** Domain settings (requested or effective) as the contract's message. */
export function settingsToProto(
  s: Readonly<Record<string, unknown>> | undefined,
): XrdpSettingsMessage {
  const d = (s ?? {}) as XrdpSettings;
  return create(XrdpSettingsSchema, {
    securityLayer: d.securityLayer ? securityLayerOf[d.securityLayer] : SecurityLayer.UNSPECIFIED,
    cryptLevel: d.cryptLevel ? cryptLevelOf[d.cryptLevel] : CryptLevel.UNSPECIFIED,
    tlsProtocols: (d.tlsProtocols ?? []).map((p) => tlsProtocolOf[p]),
    tlsCiphers: [...(d.tlsCiphers ?? [])],
    tlsCertPath: d.tlsCertPath ?? "",
    tlsKeyPath: d.tlsKeyPath ?? "",
    maxBpp: d.maxBpp ?? 0,
    maxSessions: d.maxSessions ?? 0,
    allowRootLogin: d.allowRootLogin,
    idleTimeLimit: duration(d.idleTimeLimitSec),
    disconnectedTimeLimit: duration(d.disconnectedTimeLimitSec),
    killDisconnected: d.killDisconnected,
    allowMultimon: d.allowMultimon,
    clipboard: d.clipboard,
    driveRedirection: d.driveRedirection,
    audio: d.audio,
  });
}

export const instanceStateToProto: Record<InstanceRecord["state"], InstanceState> = {
  STARTING: InstanceState.STARTING,
  READY: InstanceState.READY,
  RESTARTING: InstanceState.RESTARTING,
  STOPPING: InstanceState.STOPPING,
  STOPPED: InstanceState.STOPPED,
  FAILED: InstanceState.FAILED,
};

export const instanceStateFromProto: Readonly<
  Partial<Record<InstanceState, InstanceRecord["state"]>>
> = Object.fromEntries(Object.entries(instanceStateToProto).map(([k, v]) => [v, k]));

const reasons: Record<NonNullable<InstanceRecord["stateReason"]>, InstanceStateReason> = {
  STOP_REQUESTED: InstanceStateReason.STOP_REQUESTED,
  PROCESS_EXITED: InstanceStateReason.PROCESS_EXITED,
  CRASH_LOOP: InstanceStateReason.CRASH_LOOP,
  READINESS_TIMEOUT: InstanceStateReason.READINESS_TIMEOUT,
  PROCESS_MISSING: InstanceStateReason.PROCESS_MISSING,
  SERVICE_SHUTDOWN: InstanceStateReason.SERVICE_SHUTDOWN,
};

const ts = (d: Date | undefined) => (d === undefined ? undefined : timestampFromDate(d));

/** An instance record as the contract's Instance. */
export function instanceToProto(
  r: InstanceRecord,
  connectionCount: number,
  activeDisplays: readonly number[] = [],
): Instance {
  return create(InstanceSchema, {
    id: r.id,
    serverId: r.serverId,
    port: r.port,
    state: instanceStateToProto[r.state],
    stateReason: r.stateReason ? reasons[r.stateReason] : InstanceStateReason.UNSPECIFIED,
    stateMessage: r.stateMessage ?? r.failureReason ?? "",
    pid: r.pid ?? 0,
    restartCount: r.restartCount,
    nextRestartTime: ts(r.nextRestartTime),
    lastExit: r.lastExit
      ? create(ProcessExitSchema, {
          exitCode: r.lastExit.exitCode,
          signal: r.lastExit.signal ?? "",
          exitTime: ts(r.lastExit.time),
        })
      : undefined,
    settings: settingsToProto(r.settings),
    effectiveSettings: settingsToProto(r.effectiveSettings),
    tlsCertSha256: r.tlsCertSha256 ?? "",
    connectionCount,
    processStartTime: ts(r.processStartTime),
    createTime: ts(r.createTime),
    updateTime: ts(r.updateTime),
    readyTime: ts(r.readyTime),
    owner: r.owner ?? "",
    displayFirst: r.displayFirst ?? 0,
    displayCount: r.displayCount ?? 0,
    activeDisplays: [...activeDisplays],
    sesmanPid: r.sesmanPid ?? 0,
    warm: r.warm === true,
  });
}

/** A connection as the contract's Connection. */
export function connectionToProto(c: {
  instanceId: string;
  serverId: string;
  localPort: number;
  peer: { address: string; port: number };
  establishTime: Date;
}): Connection {
  return create(ConnectionSchema, {
    instanceId: c.instanceId,
    serverId: c.serverId,
    localPort: c.localPort,
    peer: create(EndpointSchema, { host: c.peer.address, port: c.peer.port }),
    establishTime: timestampFromDate(c.establishTime),
  });
}

/** Revives the Dates of an instance record that went through JSON (the event bus). */
export function reviveInstance(json: unknown): InstanceRecord {
  const r = json as Record<string, unknown>;
  const date = (v: unknown) => (typeof v === "string" ? new Date(v) : (v as Date | undefined));
  const lastExit = r.lastExit as Record<string, unknown> | undefined;
  return {
    ...(r as unknown as InstanceRecord),
    createTime: date(r.createTime) as Date,
    updateTime: date(r.updateTime) as Date,
    processStartTime: date(r.processStartTime),
    nextRestartTime: date(r.nextRestartTime),
    readyTime: date(r.readyTime),
    stopTime: date(r.stopTime),
    lastExit: lastExit ? { ...(lastExit as object), time: date(lastExit.time) as Date } : undefined,
  };
}
