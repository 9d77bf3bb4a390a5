export type { FetchServerLike } from './adapters/runtime-idle.js';
export { EventrailError, type EventrailErrorCode, isEventrailError } from './errors.js';
export type { HistoryReadStats } from './fanout/history-reads.js';
export type { FleetOptions, PresenceOptions } from './fleet/options.js';
export type { ScopePresence } from './fleet/presence.js';
export { LIMIT_DEFAULTS, type LimitOptions } from './limits.js';
export { DEFAULTS, type SseServerOptions } from './options.js';
export {
  createPublisher,
  type PublisherOptions,
  type StandalonePublisher,
} from './publisher.js';
export {
  type ClientFiles,
  type ClientFilesOptions,
  clientFiles,
} from './server/client-files.js';
export {
  createSseServer,
  type RefusalReason,
  type SseServer,
  type SseServerHealth,
  type SseServerStats,
} from './server.js';
export type {
  DeliverTraceInfo,
  EventTracing,
  PublishTraceInfo,
  TraceCarrier,
} from './tracing.js';
export type {
  BackpressurePolicy,
  Broker,
  BrokerHistory,
  BrokerMessage,
  BrokerPresence,
  BrokerState,
  BrokerSubscription,
  ClientInfo,
  DisconnectReason,
  EventEncoder,
  HistoryEntry,
  HistoryPosition,
  Logger,
  OutgoingEvent,
  PresenceChange,
  Principal,
  PrincipalResolver,
  PublishableEvent,
  Publisher,
  RevocationTarget,
  Router,
  ServerHooks,
  SseRequest,
} from './types.js';
export { decodePayload } from './wire/payload.js';
export {
  CONNECTED_EVENT,
  LAST_EVENT_ID_PARAM,
  ORIGIN_EVENT,
  ORIGIN_HEADER,
  PRESENCE_EVENT,
  RESYNC_EVENT,
  readOrigin,
} from './wire/protocol.js';
