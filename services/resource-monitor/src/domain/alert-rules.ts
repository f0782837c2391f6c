/**
 * Alert rules as plain data: what makes one valid, which series its selector picks, and how a
 * value is compared with its threshold.
 *
 * `validateRule` checks everything the AlertRule comments in proto/lucid/rdp/v1/alert.proto
 * promise, including what protovalidate already checks at the edge (so a rule merged from an
 * update mask, or read from config, is held to the same rules), plus what protovalidate cannot
 * check: that every selector label belongs to the rule's metric, and that the selector is bounded.
 * A selector is unbounded, and rejected, when it has more than 16 matchers, names a label the
 * metric does not have, or (on a per-series metric, with no EQUAL matcher) has a REGEX matcher
 * that matches every value (`.*`, `.+`, `\S*` ...). An empty selector is allowed: the contract
 * says it selects every series of the metric, whose number is bounded by the host.
 *
 * Matching follows Prometheus: a missing label reads as the empty string, and regexes are fully
 * anchored (`sd.` matches `sda` but not `sda1`), in RE2's syntax and with RE2's guarantee: the
 * patterns run on re2js (a port of RE2), whose matching time is linear in the value's length
 * whatever the pattern, so no rule can hold the event loop (JavaScript's own engine backtracks:
 * `[^x].*|(x|x)*y` took it forever). Lookaround and backreferences do not exist in RE2 and are
 * refused.
 */
import { RE2JS } from "re2js";
import type {
  AlertLabelMatcher,
  Comparison,
  LabelMatchOperator,
  Severity,
} from "./alert-values.js";
import type { Labels } from "./labels.js";
import { findMetric, type MetricName } from "./metrics-catalog.js";

/** The limits of an alert rule, from the AlertRule comments in the proto. */
export const ruleLimits = Object.freeze({
  /** display_name: 1 to 128 characters. */
  maxNameLength: 128,
  /** At most 16 matchers. */
  maxMatchers: 16,
  /** A matcher's label name: 1 to 63 characters. */
  maxLabelNameLength: 63,
  /** A matcher's value, a label value: at most 128 characters. */
  maxLabelValueLength: 128,
  /** At most 32 rule labels. */
  maxLabels: 32,
  /** summary: at most 512 characters. */
  maxSummaryLength: 512,
  /** for_duration: 0 to 24 hours. */
  maxForMs: 24 * 60 * 60 * 1000,
});

/** Every comparison. */
export const comparisons: readonly Comparison[] = ["GT", "GTE", "LT", "LTE", "EQ", "NE"];
/** Every severity. */
export const severities: readonly Severity[] = ["INFO", "WARNING", "CRITICAL"];
/** Every match operator. */
export const matchOperators: readonly LabelMatchOperator[] = [
  "EQUAL",
  "NOT_EQUAL",
  "REGEX",
  "NOT_REGEX",
];

/**
 * Thrown when an alert rule breaks a rule of the contract. `field` is the offending field's path
 * in CreateAlertRuleRequest and UpdateAlertRuleRequest (both carry the rule as `alert_rule`), in
 * proto names, as BadRequest field violations write it: `alert_rule.threshold`,
 * `alert_rule.selector[2].name`, `alert_rule.labels["team"]`. The service maps it to
 * INVALID_ARGUMENT; the message is safe to show.
 */
export class RuleValidationError extends Error {
  override readonly name = "RuleValidationError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A selector matcher as given, before validation (the operator may be anything). */
export interface MatcherInput {
  readonly name: string;
  readonly operator: string;
  readonly value: string;
}

/**
 * A rule as given to create or update (after merging the update mask), in domain names:
 * `name` is display_name, `matchers` (or, for old records, `selector`) the selector, `forMs`
 * for_duration. An AlertRuleRecord fits.
 */
export interface AlertRuleInput {
  readonly name: string;
  readonly metric: string;
  /** The selector; when absent, `selector` as equality matchers. */
  readonly matchers?: readonly MatcherInput[];
  /** The selector of records written before `matchers`: equality matchers. */
  readonly selector?: Labels;
  readonly comparison: string;
  readonly threshold: number;
  readonly forMs: number;
  readonly severity: string;
  readonly labels: Labels;
  readonly summary?: string;
}

/** A rule that passed validateRule. */
export type ValidAlertRule = AlertRuleInput & {
  readonly metric: MetricName;
  readonly comparison: Comparison;
  readonly severity: Severity;
  readonly matchers?: readonly AlertLabelMatcher[];
};

const labelNamePattern = /^[a-z][a-z0-9_]*$/;
const labelValuePattern = /^[A-Za-z0-9_.:/@+=-]*$/;
/**
 * Whether `s` has a control character, which the proto refuses: C0 (U+0000 to U+001F), DEL
 * (U+007F) or C1 (U+0080 to U+009F, e.g. NEL U+0085 and CSI U+009B).
 */
const hasControlCharacter = (s: string) =>
  [...s].some((c) => {
    const code = c.codePointAt(0) ?? 0;
    return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
  });

/** Length in characters (code points), as protovalidate counts. */
const length = (s: string) => [...s].length;

/**
 * Checks a rule against the contract and throws RuleValidationError naming the first offending
 * field, in the order of the AlertRule message.
 */
export function validateRule(input: AlertRuleInput): asserts input is ValidAlertRule {
  const field = (path: string) => `alert_rule.${path}`;
  const fail = (path: string, message: string): never => {
    throw new RuleValidationError(field(path), message);
  };

  if (typeof input.name !== "string" || input.name === "") fail("display_name", "is required");
  if (length(input.name) > ruleLimits.maxNameLength) {
    fail("display_name", `must be at most ${ruleLimits.maxNameLength} characters`);
  }
  if (hasControlCharacter(input.name)) fail("display_name", "must not contain control characters");

  const metric = findMetric(input.metric);
  if (metric === undefined) fail("metric", `unknown metric "${input.metric}"`);

  const matchers = ruleMatchers(input);
  if (matchers.length > ruleLimits.maxMatchers) {
    fail(
      "selector",
      `must have at most ${ruleLimits.maxMatchers} matchers, not ${matchers.length}`,
    );
  }
  matchers.forEach((m, i) => {
    const at = `selector[${i}]`;
    if (!labelNamePattern.test(m.name) || length(m.name) > ruleLimits.maxLabelNameLength) {
      fail(
        `${at}.name`,
        `must be 1 to ${ruleLimits.maxLabelNameLength} characters [a-z][a-z0-9_]*`,
      );
    }
    if (metric !== undefined && !metric.labels.includes(m.name)) {
      fail(
        `${at}.name`,
        metric.labels.length === 0
          ? `metric ${metric.name} has no labels`
          : `metric ${metric.name} has no label "${m.name}" (it has ${metric.labels.join(", ")})`,
      );
    }
    if (!(matchOperators as readonly string[]).includes(m.operator)) {
      fail(`${at}.operator`, `unknown operator "${m.operator}"`);
    }
    if (length(m.value) > ruleLimits.maxLabelValueLength) {
      fail(`${at}.value`, `must be at most ${ruleLimits.maxLabelValueLength} characters`);
    }
    if (m.operator === "REGEX" || m.operator === "NOT_REGEX") {
      const problem = regexProblem(m.value);
      if (problem !== undefined) fail(`${at}.value`, problem);
    } else if (!labelValuePattern.test(m.value)) {
      fail(`${at}.value`, "may only contain letters, digits and _.:/@+=-");
    }
  });
  if (
    metric?.perSeries === true &&
    !matchers.some((m) => m.operator === "EQUAL") &&
    matchers.some((m) => m.operator === "REGEX" && matchesEverything(m.value))
  ) {
    fail("selector", "a regex matching every value needs an EQUAL matcher beside it");
  }

  if (!(comparisons as readonly string[]).includes(input.comparison)) {
    fail("comparison", `unknown comparison "${input.comparison}"`);
  }
  if (typeof input.threshold !== "number" || !Number.isFinite(input.threshold)) {
    fail("threshold", "must be a finite number (not NaN or infinite)");
  }
  if (typeof input.forMs !== "number" || Number.isNaN(input.forMs)) {
    fail("for_duration", "must be a duration");
  }
  if (input.forMs < 0) fail("for_duration", "must not be negative");
  if (input.forMs > ruleLimits.maxForMs) fail("for_duration", "must be at most 24 hours");
  if (!(severities as readonly string[]).includes(input.severity)) {
    fail("severity", `unknown severity "${input.severity}"`);
  }

  const labels = Object.entries(input.labels);
  if (labels.length > ruleLimits.maxLabels) {
    fail("labels", `must have at most ${ruleLimits.maxLabels} pairs`);
  }
  for (const [key, value] of labels) {
    const at = `labels[${JSON.stringify(key)}]`;
    if (!labelNamePattern.test(key) || length(key) > ruleLimits.maxLabelNameLength) {
      fail(at, `key must be 1 to ${ruleLimits.maxLabelNameLength} characters [a-z][a-z0-9_]*`);
    }
    if (length(value) > ruleLimits.maxLabelValueLength || !labelValuePattern.test(value)) {
      fail(
        at,
        `value must be at most ${ruleLimits.maxLabelValueLength} letters, digits and _.:/@+=-`,
      );
    }
  }

  const summary = input.summary ?? "";
  if (length(summary) > ruleLimits.maxSummaryLength) {
    fail("summary", `must be at most ${ruleLimits.maxSummaryLength} characters`);
  }
  if (hasControlCharacter(summary)) fail("summary", "must not contain control characters");
}

/**
 * A rule's selector as matchers: `matchers` when present, else the equality matchers of the old
 * `selector` map, sorted by label name.
 */
export function ruleMatchers<M extends MatcherInput = AlertLabelMatcher>(rule: {
  readonly matchers?: readonly M[];
  readonly selector?: Labels;
}): readonly (M | AlertLabelMatcher)[] {
  if (rule.matchers !== undefined) return rule.matchers;
  return Object.entries(rule.selector ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, operator: "EQUAL" as const, value }));
}

/**
 * Whether a series' labels satisfy every matcher of a selector (an empty selector matches every
 * series). A missing label reads as ""; regexes are anchored at both ends. A regex that does not
 * compile (validateRule rejects those) matches nothing.
 */
export function matchesSelector(labels: Labels, selector: readonly AlertLabelMatcher[]): boolean {
  return selector.every((m) =>
    holds(m, Object.hasOwn(labels, m.name) ? (labels[m.name] ?? "") : ""),
  );
}

function holds(m: AlertLabelMatcher, actual: string): boolean {
  switch (m.operator) {
    case "EQUAL":
      return actual === m.value;
    case "NOT_EQUAL":
      return actual !== m.value;
    case "REGEX":
      return anchoredRegex(m.value)?.test(actual) ?? false;
    case "NOT_REGEX": {
      const re = anchoredRegex(m.value);
      return re !== undefined && !re.test(actual);
    }
  }
}

/**
 * Whether `value` satisfies `comparison` against `threshold`. A NaN value (no data) satisfies
 * nothing, not even NE.
 */
export function compare(value: number, comparison: Comparison, threshold: number): boolean {
  if (Number.isNaN(value)) return false;
  switch (comparison) {
    case "GT":
      return value > threshold;
    case "GTE":
      return value >= threshold;
    case "LT":
      return value < threshold;
    case "LTE":
      return value <= threshold;
    case "EQ":
      return value === threshold;
    case "NE":
      return value !== threshold;
  }
}

/**
 * The etag of a rule (AlertRule.etag): derived from the record's version, which every write
 * bumps, so no field has to be kept in step. Compare a caller's etag with it, and update with the
 * version read, to get ABORTED on a concurrent change.
 */
export function ruleEtag(rule: { readonly version: number }): string {
  return `v${rule.version}`;
}

// ---- regexes ---------------------------------------------------------------------------------

/** A compiled pattern: whether a whole value matches it. */
interface AnchoredRegex {
  test(value: string): boolean;
}

const regexCache = new Map<string, AnchoredRegex | undefined>();
const regexCacheLimit = 1024;

/**
 * The pattern anchored at both ends (Prometheus semantics) on RE2's linear-time engine, or
 * undefined if it is not valid RE2 syntax.
 */
function anchoredRegex(pattern: string): AnchoredRegex | undefined {
  if (regexCache.has(pattern)) return regexCache.get(pattern);
  let re: AnchoredRegex | undefined;
  try {
    const compiled = RE2JS.compile(pattern);
    re = { test: (value) => compiled.matches(value) };
  } catch {
    re = undefined;
  }
  if (regexCache.size >= regexCacheLimit) regexCache.clear();
  regexCache.set(pattern, re);
  return re;
}

/** Constructs RE2 (Prometheus's engine) lacks, named in the refusal. */
const nonRe2 = /\(\?<?[=!]|\\[1-9]|\\k</;

/** Why a REGEX/NOT_REGEX value is refused, or undefined when it is fine. */
function regexProblem(pattern: string): string | undefined {
  if (nonRe2.test(pattern)) return "must not use lookaround or backreferences (RE2 syntax)";
  if (anchoredRegex(pattern) === undefined) return "is not a valid regular expression (RE2 syntax)";
  return undefined;
}

/** Label values of every shape the sampler produces: a regex matching all of them matches all. */
const probes = [
  "a",
  "Z",
  "0",
  "_",
  "/",
  "sda1",
  "nvme0n1p2",
  "/var/lib/lucid-rdp",
  "eth0",
  "ext4",
  "9f0c1c52-8d2e-4f0b-9a3c-2c1e5d4f6a7b",
  "node-1.example.com:8080",
  "_.:/@+=-",
  "x".repeat(100),
];

/**
 * Whether an anchored regex matches every non-empty label value, judged on a fixed set of diverse
 * probes (`.*`, `.+`, `\S*`, `(?:a|.*)` do; `sd.*` does not).
 */
function matchesEverything(pattern: string): boolean {
  const re = anchoredRegex(pattern);
  return re !== undefined && probes.every((p) => re.test(p));
}
