/**
 * The xrdp settings a server is created with, as plain data: the JSON form of the contract's
 * XrdpSettings (protobuf JSON: lowerCamelCase field names, enum values by their full names such as
 * "SECURITY_LAYER_TLS", durations as "3600s", unset fields absent). server-manager never reads the
 * fields: it stores them with the server as they are (so records written before this type existed
 * stay readable) and passes them on to the node, whose xrdp-integration checks them.
 */
export type XrdpSettings = Readonly<Record<string, unknown>>;
