/**
 * What the INI tests share: an instance, its effective settings, every attempt to smuggle INI
 * syntax into a value, and a helper that returns the IniValueError a render throws.
 * Test code only (imported by the *.test.ts files beside it).
 */
import { expect } from "vitest";
import { IniValueError } from "./ini-format.js";
import { resolveSettings } from "./resolve-settings.js";
import { defaultFloor, defaultSettings, type EffectiveSettings } from "./xrdp-settings.js";

/** The instance of the INI tests. */
export const instanceId = "0b5e8f2c-6a43-4d1e-9a7b-3c2d1e0f9a8b";
/** Its directory. */
export const instanceDir = `/var/lib/lucid-rdp/instances/${instanceId}`;
/** The default effective settings, with the instance's generated TLS paths. */
export const settings: EffectiveSettings = {
  ...resolveSettings({}, defaultSettings, defaultFloor),
  tlsCertPath: `${instanceDir}/tls/cert.pem`,
  tlsKeyPath: `${instanceDir}/tls/key.pem`,
};

/** Runs `render` and returns the IniValueError it throws; fails if it throws nothing else. */
export function iniError(render: () => unknown): IniValueError {
  try {
    render();
  } catch (error) {
    expect(error).toBeInstanceOf(IniValueError);
    return error as IniValueError;
  }
  throw new Error("the value was accepted");
}

/** Every attempt to smuggle syntax into a value. */
export const injections: [label: string, payload: string][] = [
  ["LF", "\nsecurity_layer=rdp"],
  ["CR", "\rsecurity_layer=rdp"],
  ["CRLF", "\r\nsecurity_layer=rdp"],
  ["# comment", "#x"],
  ["; comment", ";x"],
  ["[section]", "[Globals]"],
  ["]", "]"],
  ["[", "["],
  ["NUL", "\0"],
  ["é", "é"],
  ["RTL override U+202E", "\u202e"],
  ["zero-width space", "\u200b"],
  ["tab", "\t"],
  ["leading space", " "],
  ["=", "=x"],
  ["DEL", "\x7f"],
];
/** Payloads that are wrong on their own (whole values). */
export const wholeValues: [label: string, value: string][] = [
  ["leading $", "$HOME"],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the attack
  ["${VAR}", "${HOME}"],
  ["empty", ""],
  ["leading space", " tls"],
  ["trailing space", "tls "],
  ["2048 bytes", "A".repeat(2048)],
];
