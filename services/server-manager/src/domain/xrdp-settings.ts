/**
 * The xrdp settings a server is created with, as plain data: the JSON form of the contract's
 * XrdpSettings (protobuf JSON: lowerCamelCase field names, enum values by their full names such as
 * "SECURITY_LAYER_TLS", durations as "3600s", unset fields absent). Server records store it as is,
 * so that records written before this type existed stay readable.
 */
export type XrdpSettings = {
  readonly securityLayer?: string;
  readonly cryptLevel?: string;
  readonly tlsProtocols?: readonly string[];
  readonly tlsCiphers?: readonly string[];
  readonly tlsCertPath?: string;
  readonly tlsKeyPath?: string;
  readonly maxBpp?: number;
  readonly maxSessions?: number;
  readonly allowRootLogin?: boolean;
  readonly idleTimeLimit?: string;
  readonly disconnectedTimeLimit?: string;
  readonly killDisconnected?: boolean;
  readonly allowMultimon?: boolean;
  readonly clipboard?: boolean;
  readonly driveRedirection?: boolean;
  readonly audio?: boolean;
};
