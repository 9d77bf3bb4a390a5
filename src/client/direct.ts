/** A stream the tab holds alone: today's per-tab EventSource. */
import { CONNECTED_EVENT, RESYNC_EVENT } from './constants.js';
import { openSource, type SourceConfig } from './source.js';
import type { Stream, StreamHandlers } from './stream.js';
import type { EventSourceConstructor } from './types.js';
import { parseConnectionId } from './wire.js';

/** Opens the tab's own stream; its origin is the connection id. */
export function openDirect(
  Source: EventSourceConstructor,
  config: SourceConfig,
  names: readonly string[],
  handlers: StreamHandlers,
): Stream {
  handlers.tabs(1);
  const source = openSource(Source, config, [CONNECTED_EVENT, RESYNC_EVENT, ...names], {
    message(name, data, id) {
      if (name === CONNECTED_EVENT) handlers.origin(parseConnectionId(data));
      else if (name === RESYNC_EVENT) handlers.resync('resync');
      else handlers.event({ name, data, lastEventId: id });
    },
    state(state) {
      if (state === 'reconnecting') handlers.origin(undefined);
      handlers.state(state);
    },
    lost: () => handlers.resync('reconnect'),
  });
  return { listen: (name) => source.listen(name), close: () => source.close() };
}
