/** The parser of /proc/mounts (fstab(5) format: "device mount-point type options dump pass"). */

/** One line of /proc/mounts. */
export interface Mount {
  /** The mounted device, for example `/dev/sda1`, or `overlay`. */
  device: string;
  /** Where it is mounted, for example `/`. */
  mountPoint: string;
  /** The filesystem type, for example `ext4`. */
  fsType: string;
}

/**
 * Parses the text of /proc/mounts, in the kernel's order (a later mount of a mount point hides
 * the earlier ones). Octal escapes in the device and mount point (`\040` for a space) are decoded.
 */
export function parseMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const [device, mountPoint, fsType] = line.split(" ");
    if (device === undefined || mountPoint === undefined || fsType === undefined) continue;
    mounts.push({
      device: unescapeMountField(device),
      mountPoint: unescapeMountField(mountPoint),
      fsType,
    });
  }
  return mounts;
}

/** /proc/mounts writes space, tab, newline and backslash as octal escapes (\040 ...). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}
