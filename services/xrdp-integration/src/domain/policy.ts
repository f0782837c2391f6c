/**
 * The service's security floor and defaults, from its configuration knobs on top of the secure
 * built-in ones. Checked once at start: defaults below the floor are a configuration error.
 */
import { validateServiceDefaults } from "./resolve-settings.js";
import {
  defaultFloor,
  defaultSettings,
  type SecurityFloor,
  type ServiceDefaults,
} from "./xrdp-settings.js";

export interface PolicyKnobs {
  /** XRDP_ALLOW_RDP_SECURITY: instances may use classic RDP security (rdp, negotiate). */
  readonly allowRdpSecurity: boolean;
  /** XRDP_ALLOW_ROOT_LOGIN: instances may let root log in. */
  readonly allowRootLogin: boolean;
}

export function buildPolicy(knobs: PolicyKnobs): {
  defaults: ServiceDefaults;
  floor: SecurityFloor;
} {
  const floor: SecurityFloor = {
    ...defaultFloor,
    allowedSecurityLayers: knobs.allowRdpSecurity ? ["tls", "negotiate", "rdp"] : ["tls"],
    allowRootLogin: knobs.allowRootLogin,
  };
  const defaults: ServiceDefaults = { ...defaultSettings };
  validateServiceDefaults(defaults, floor);
  return { defaults, floor };
}
