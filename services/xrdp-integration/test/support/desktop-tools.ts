/**
 * What the desktop tests need on the host, found once: xrdp, xrdp-sesman, xfreerdp, Xvfb and the
 * two test accounts. `desktopsReady` is false when any is missing (findTool throws under CI=true).
 */
import { findAccount, findTool, rdpTools, testAccounts } from "@lucid-rdp/testing";

export const xrdpBin = findTool("xrdp", "apt-get install -y xrdp");
export const alice = findAccount(testAccounts.alice.name);
export const bob = findAccount(testAccounts.bob.name);
export const desktopsReady =
  xrdpBin !== undefined &&
  rdpTools.sesman !== undefined &&
  rdpTools.xfreerdp !== undefined &&
  rdpTools.xvfb !== undefined &&
  alice !== undefined &&
  bob !== undefined;
