/**
 * A small, spec-compliant parser for the `text/event-stream` format
 * (HTML Living Standard, "Server-sent events", §9.2.6 "Interpreting an event stream").
 *
 * Feed it decoded text in arbitrary chunks; it calls `onEvent` once per dispatched event.
 *
 * Handles:
 *  - `\n`, `\r\n` and `\r` line endings (also a `\r\n` pair split across two chunks),
 *  - a leading UTF-8 BOM,
 *  - comments (lines starting with `:`),
 *  - fields with or without a colon, and a single optional space after the colon,
 *  - multi-line `data` (joined with `\n`),
 *  - `event`, `id` (ignored when it contains U+0000; persists across events), `retry` (digits only),
 *  - events with an empty data buffer are not dispatched; an unterminated event at end of stream is discarded.
 */

export interface SseEvent {
  /** Event type; `"message"` when the event had no `event:` field. */
  type: string;
  /** The data lines joined with `\n`. */
  data: string;
  /** The last event ID buffer at dispatch time (it persists across events, as in EventSource). */
  lastEventId: string;
}

export interface SseParserHandlers {
  onEvent: (event: SseEvent) => void;
  /** Called with the reconnection time in ms when a valid `retry:` field is seen. */
  onRetry?: (ms: number) => void;
  /** Called with the comment text (without the leading `:`). */
  onComment?: (comment: string) => void;
}

export class SseParser {
  private buffer = '';
  private pendingCR = false;
  private firstChunk = true;
  private data = '';
  private hasData = false;
  private eventType = '';
  private lastEventIdBuffer = '';

  constructor(private readonly handlers: SseParserHandlers) {}

  /** The current last-event-ID buffer (what a reconnecting EventSource would send). */
  get lastEventId(): string {
    return this.lastEventIdBuffer;
  }

  /** Feed a chunk of decoded text. */
  feed(chunk: string): void {
    if (chunk.length === 0) return;
    if (this.firstChunk) {
      this.firstChunk = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    let start = 0;
    // A "\r" that ended the previous chunk may be followed by the "\n" of the same line ending.
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk.charCodeAt(0) === 10 /* \n */) start = 1;
    }
    const len = chunk.length;
    let i = start;
    while (i < len) {
      const c = chunk.charCodeAt(i);
      if (c === 10 /* \n */ || c === 13 /* \r */) {
        const line = this.buffer + chunk.slice(start, i);
        this.buffer = '';
        if (c === 13) {
          if (i + 1 < len) {
            if (chunk.charCodeAt(i + 1) === 10) i++;
          } else {
            this.pendingCR = true;
          }
        }
        this.processLine(line);
        start = i + 1;
      }
      i++;
    }
    if (start < len) this.buffer += chunk.slice(start);
  }

  /**
   * Signal end of stream. Per the spec, an event that was not terminated by a blank line
   * is discarded; the partial line is dropped as well. The parser can be reused afterwards
   * (the last event ID buffer is kept, as EventSource keeps it across reconnections).
   */
  end(): void {
    this.buffer = '';
    this.pendingCR = false;
    this.firstChunk = true;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
  }

  private processLine(line: string): void {
    if (line.length === 0) {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) {
      this.handlers.onComment?.(line.slice(1));
      return;
    }
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data += value + '\n';
        this.hasData = true;
        break;
      case 'id':
        if (value.indexOf('\u0000') === -1) this.lastEventIdBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.handlers.onRetry?.(parseInt(value, 10));
        break;
      default:
        // unknown field: ignored
        break;
    }
  }

  private dispatch(): void {
    if (!this.hasData) {
      this.data = '';
      this.eventType = '';
      return;
    }
    let data = this.data;
    if (data.endsWith('\n')) data = data.slice(0, -1);
    const type = this.eventType || 'message';
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.handlers.onEvent({ type, data, lastEventId: this.lastEventIdBuffer });
  }
}

/** Convenience: parse a complete stream text into its events (useful in tests and tools). */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser({ onEvent: (e) => events.push(e) });
  parser.feed(text);
  parser.end();
  return events;
}
