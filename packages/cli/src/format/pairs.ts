/** `k=v` pairs of a string map (labels, details, metadata), in their order, joined by `separator`. */
export function pairsText(map: Readonly<Record<string, string>>, separator: string): string {
  return Object.entries(map)
    .map(([k, v]) => `${k}=${v}`)
    .join(separator);
}
