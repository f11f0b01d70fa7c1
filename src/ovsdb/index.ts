// OVSDB access for the agent: wire codec, client, replica, and the agent's operations.
export * from './protocol.js';
export * from './client.js';
export * from './replica.js';
export * from './ops.js';
export * from './schema.js';
