/** xrdp's log levels, as xrdp.ini and sesman.ini spell them. */

/** An xrdp log level, as its INI files spell it. */
export type IniLogLevel = "CORE" | "ERROR" | "WARNING" | "INFO" | "DEBUG" | "TRACE";

/** Every log level, least verbose first. */
export const iniLogLevels: readonly IniLogLevel[] = [
  "CORE",
  "ERROR",
  "WARNING",
  "INFO",
  "DEBUG",
  "TRACE",
];
