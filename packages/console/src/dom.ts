/**
 * DOM helpers of the console. Everything user-controlled reaches the DOM through these as text
 * nodes, never as HTML.
 */

/** What `h` accepts as a child: nodes and strings; null, undefined and false are skipped. */
export type Child = Node | string | null | undefined | false;

/** Creates a `tag` element with the defined `attrs` and appends the children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** The element of index.html with this id; throws when the page lacks it. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

/** Shows `text` in the notice line `id`, styled as an error unless `error` is false. */
export function notice(id: string, text: string, error = true): void {
  const el = byId(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

/** A state badge: `text` in the colours of `tone` (see tones.ts and style.css). */
export function badge(text: string, tone: string): HTMLElement {
  return h("span", { class: `badge ${tone}` }, text);
}
