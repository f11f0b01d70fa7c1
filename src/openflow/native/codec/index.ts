// Public surface of the pure OpenFlow 1.3 codec.
export * from './errors.js';
export * from './buffer.js';
export * from './addr.js';
export * from './fields.js';
export * from './actions.js';
export * from './messages.js';
export * from './stream.js';
export * from './model.js';
export * from './format.js';
