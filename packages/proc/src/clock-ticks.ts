/**
 * USER_HZ, the unit of the CPU times in /proc/stat and of the times in /proc/<pid>/stat. Assumed,
 * not measured: the kernel fixes it at 100 on every architecture this runs on (x86-64, arm64)
 * whatever its CONFIG_HZ, and the only other way to learn it, `getconf CLK_TCK`, is a subprocess.
 * Only alpha and ia64 used 1024.
 */
export const clockTicksPerSecond = 100;
