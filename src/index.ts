export { EventrailError, type EventrailErrorCode, isEventrailError } from './errors.js';
export { LIMIT_DEFAULTS, type LimitOptions } from './limits.js';
export { DEFAULTS, type SseServerOptions } from './options.js';
export { decodePayload } from './payload.js';
export {
  CONNECTED_EVENT,
  LAST_EVENT_ID_PARAM,
  ORIGIN_EVENT,
  ORIGIN_HEADER,
  RESYNC_EVENT,
  readOrigin,
} from './protocol.js';
export { createPublisher, type PublisherOptions } from './publisher.js';
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
  BrokerState,
  BrokerSubscription,
  ClientInfo,
  DisconnectReason,
  EventEncoder,
  HistoryEntry,
  Logger,
  OutgoingEvent,
  Principal,
  PrincipalResolver,
  PublishableEvent,
  Publisher,
  Router,
  ServerHooks,
  SseRequest,
} from './types.js';
