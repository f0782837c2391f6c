/** Labels of a series, a rule or an alert: name -> value (the storage's Labels fit). */
export type Labels = Readonly<Record<string, string>>;
