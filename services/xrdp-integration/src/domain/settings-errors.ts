/** The errors of resolving requested settings against the service's defaults and floor. */

/** Thrown when requested settings are looser than the service's security floor. */
export class SettingsPolicyError extends Error {
  override readonly name = "SettingsPolicyError";
  /**
   * @param field the proto field path, e.g. `settings.security_layer`.
   * @param floor the floor that was violated, as text, e.g. `allowed security layers: tls`.
   */
  constructor(
    readonly field: string,
    readonly floor: string,
    detail: string,
  ) {
    super(`${field}: ${detail} is looser than the security floor (${floor})`);
  }
}

/**
 * Thrown when a requested setting is not a valid value for its field at all (unknown enum value,
 * out of range, malformed path or cipher name), regardless of the floor.
 */
export class SettingsValueError extends Error {
  override readonly name = "SettingsValueError";
  /** @param field the proto field path, e.g. `settings.max_bpp`. */
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}
