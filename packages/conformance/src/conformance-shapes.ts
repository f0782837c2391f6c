/**
 * The shapes of the suite's messages as protobuf-es builds them at run time from the descriptor
 * set (camelCase fields, oneofs as `{ case, value }`). Only the fields the server reads are
 * listed; written by hand because the generated code is not committed.
 */
import type { Message } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";

/** connectrpc.conformance.v1.Header */
export interface HeaderShape {
  readonly name: string;
  readonly value: readonly string[];
}

/** connectrpc.conformance.v1.Error */
export interface ErrorShape {
  readonly code: number;
  readonly message?: string;
  readonly details: readonly Any[];
}

/** connectrpc.conformance.v1.UnaryResponseDefinition */
export interface UnaryResponseDefinitionShape {
  readonly responseHeaders: readonly HeaderShape[];
  readonly response:
    | { readonly case: "responseData"; readonly value: Uint8Array }
    | { readonly case: "error"; readonly value: ErrorShape }
    | { readonly case: undefined; readonly value?: undefined };
  readonly responseTrailers: readonly HeaderShape[];
  readonly responseDelayMs: number;
  readonly rawResponse?: Message;
}

/** connectrpc.conformance.v1.StreamResponseDefinition */
export interface StreamResponseDefinitionShape {
  readonly responseHeaders: readonly HeaderShape[];
  readonly responseData: readonly Uint8Array[];
  readonly responseDelayMs: number;
  readonly error?: ErrorShape;
  readonly responseTrailers: readonly HeaderShape[];
  readonly rawResponse?: Message;
}

/** UnaryRequest, IdempotentUnaryRequest and ClientStreamRequest. */
export interface UnaryRequestShape extends Message {
  readonly responseDefinition?: UnaryResponseDefinitionShape;
}

/** ServerStreamRequest and BidiStreamRequest (whose `fullDuplex` only the bidi request has). */
export interface StreamRequestShape extends Message {
  readonly responseDefinition?: StreamResponseDefinitionShape;
  readonly fullDuplex?: boolean;
}

/** connectrpc.conformance.v1.TLSCreds */
export interface TlsCredsShape {
  readonly cert: Uint8Array;
  readonly key: Uint8Array;
}

/** connectrpc.conformance.v1.ServerCompatRequest */
export interface ServerCompatRequestShape extends Message {
  readonly protocol: number;
  readonly httpVersion: number;
  readonly useTls: boolean;
  readonly clientTlsCert: Uint8Array;
  readonly messageReceiveLimit: number;
  readonly serverCreds?: TlsCredsShape;
}
