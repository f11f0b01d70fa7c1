// oslo.messaging-compatible RPC over RabbitMQ: codec, connection manager, client, server.
export * from './envelope.js';
export * from './amqp-connection.js';
export { RpcClient, type RpcClientOptions, type CallOptions as RpcCallOptions, type CastOptions as RpcCastOptions } from './client.js';
export * from './server.js';
