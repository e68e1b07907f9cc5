/** Single-quotes a value for /bin/sh. */
export const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** An argv as a command line a user can paste: words quoted only where the shell would otherwise split or expand them. */
export const shellCommandLine = (argv: string[]) => argv.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : shellQuote(word))).join(" ");
