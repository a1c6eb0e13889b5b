// Rules a guard cannot be built from (a key file that is a private key, a field
// the edge must not set...): node.ts turns this into CONFIG_INVALID at start-up.
// The message starts with the setting's key.

export class GuardConfigError extends Error {}
