import { describe, expect, it } from 'vitest';
import { parseSse, SseParser, type SseEvent } from '../src/sse-parser.js';

function collect(chunks: string[]) {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const p = new SseParser({ onEvent: (e) => events.push(e), onRetry: (r) => retries.push(r), onComment: (c) => comments.push(c) });
  for (const c of chunks) p.feed(c);
  p.end();
  return { events, retries, comments };
}

/** Feed `text` split at every possible position into two and three chunks and one char at a time. */
function allSplits(text: string): SseEvent[][] {
  const results: SseEvent[][] = [];
  results.push(collect([...text]).events);
  for (let i = 0; i <= text.length; i++) {
    results.push(collect([text.slice(0, i), text.slice(i)]).events);
    for (let j = i; j <= text.length; j += 3) results.push(collect([text.slice(0, i), text.slice(i, j), text.slice(j)]).events);
  }
  return results;
}

describe('SseParser', () => {
  it('parses a simple message with the default type', () => {
    expect(parseSse('data: hello\n\n')).toEqual([{ type: 'message', data: 'hello', lastEventId: '' }]);
  });

  it.each([
    ['\\n', '\n'],
    ['\\r\\n', '\r\n'],
    ['\\r', '\r'],
  ])('handles %s line endings', (_, eol) => {
    const text = ['event: connected', 'data: {"topics":["a"]}', '', 'id: 7', 'data: x', '', ''].join(eol);
    expect(parseSse(text)).toEqual([
      { type: 'connected', data: '{"topics":["a"]}', lastEventId: '' },
      { type: 'message', data: 'x', lastEventId: '7' },
    ]);
  });

  it('handles mixed line endings in one stream', () => {
    expect(parseSse('data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r')).toEqual([
      { type: 'message', data: 'a\nb\nc', lastEventId: '' },
      { type: 'message', data: 'd', lastEventId: '' },
    ]);
  });

  it('gives the same result for any chunking, including a \\r\\n split across chunks', () => {
    const text = 'retry: 1000\r\n: comment\r\nevent: ping\r\ndata: {}\r\n\r\nid: 42\r\ndata: {"id":"42"}\r\ndata: line2\r\n\r\n';
    const expected = [
      { type: 'ping', data: '{}', lastEventId: '' },
      { type: 'message', data: '{"id":"42"}\nline2', lastEventId: '42' },
    ];
    for (const r of allSplits(text)) expect(r).toEqual(expected);
  });

  it('does not treat \\r then \\n in the next chunk as two line endings', () => {
    const { events } = collect(['data: a\r', '\ndata: b\r', '\n\r', '\n']);
    expect(events).toEqual([{ type: 'message', data: 'a\nb', lastEventId: '' }]);
  });

  it('joins multi-line data with \\n and removes only the final newline', () => {
    expect(parseSse('data: one\ndata: two\ndata:\ndata: three\n\n')[0]!.data).toBe('one\ntwo\n\nthree');
  });

  it('ignores comments and reports them', () => {
    const { events, comments } = collect([': hello\n:\ndata: x\n: mid\n\n']);
    expect(events).toEqual([{ type: 'message', data: 'x', lastEventId: '' }]);
    expect(comments).toEqual([' hello', '', ' mid']);
  });

  it('strips exactly one leading space after the colon', () => {
    expect(parseSse('data:no-space\n\n')[0]!.data).toBe('no-space');
    expect(parseSse('data:  two-spaces\n\n')[0]!.data).toBe(' two-spaces');
    expect(parseSse('data:\tx\n\n')[0]!.data).toBe('\tx');
  });

  it('treats a field without colon as the field name with an empty value', () => {
    // "data" alone appends an empty line: the event is dispatched with empty data
    expect(parseSse('data\n\n')).toEqual([{ type: 'message', data: '', lastEventId: '' }]);
    expect(parseSse('data\ndata\n\n')[0]!.data).toBe('\n');
    // "id" alone resets the last event id
    expect(parseSse('id: 5\ndata: a\n\nid\ndata: b\n\n').map((e) => e.lastEventId)).toEqual(['5', '']);
    // "event" alone resets to the default type
    expect(parseSse('event\ndata: a\n\n')[0]!.type).toBe('message');
  });

  it('does not dispatch events without data', () => {
    expect(parseSse('event: ping\n\nid: 3\n\n: only a comment\n\n')).toEqual([]);
  });

  it('does not carry the event type over to the next event, even when an event is not dispatched', () => {
    expect(parseSse('event: gap\n\ndata: x\n\n')).toEqual([{ type: 'message', data: 'x', lastEventId: '' }]);
  });

  it('keeps the last event id across events until changed', () => {
    const ev = parseSse('id: 10\ndata: a\n\nevent: ping\ndata: {}\n\nid: 11\ndata: b\n\n');
    expect(ev.map((e) => e.lastEventId)).toEqual(['10', '10', '11']);
  });

  it('sets the id even on an event without data (applies to the next event)', () => {
    const ev = parseSse('id: 9\n\ndata: a\n\n');
    expect(ev).toEqual([{ type: 'message', data: 'a', lastEventId: '9' }]);
  });

  it('ignores an id containing NULL', () => {
    expect(parseSse('id: 1\ndata: a\n\nid: 2\u00003\ndata: b\n\n').map((e) => e.lastEventId)).toEqual(['1', '1']);
  });

  it('accepts only ASCII-digit retry values', () => {
    const { retries } = collect(['retry: 3000\nretry: 12a\nretry: -5\nretry:\nretry: 1.5\nretry:250\n']);
    expect(retries).toEqual([3000, 250]);
  });

  it('ignores unknown fields', () => {
    expect(parseSse('foo: bar\ndata: x\nbaz\n\n')).toEqual([{ type: 'message', data: 'x', lastEventId: '' }]);
  });

  it('field names are case-sensitive', () => {
    expect(parseSse('Data: x\nDATA: y\n\n')).toEqual([]);
  });

  it('discards an unterminated event at end of stream', () => {
    expect(parseSse('data: complete\n\ndata: partial\n')).toEqual([{ type: 'message', data: 'complete', lastEventId: '' }]);
    expect(parseSse('data: complete\n\ndata: partial')).toHaveLength(1);
  });

  it('strips a leading BOM once', () => {
    expect(parseSse('\ufeffdata: x\n\n')).toEqual([{ type: 'message', data: 'x', lastEventId: '' }]);
    expect(parseSse('\ufeff\ufeffdata: x\n\n')).toEqual([]); // second BOM is part of the field name
  });

  it('keeps colons after the first one in the value', () => {
    expect(parseSse('data: {"topic":"comments:42"}\n\n')[0]!.data).toBe('{"topic":"comments:42"}');
  });

  it('handles unicode and values with spaces', () => {
    expect(parseSse('data: héllo wörld ✓ 😀\n\n')[0]!.data).toBe('héllo wörld ✓ 😀');
  });

  it('parses a realistic Repl stream', () => {
    const text =
      'retry: 2000\n\n' +
      'event: connected\ndata: {"topics":["comments:42"],"node":"n1"}\n\n' +
      'id: 101\ndata: {"id":"101","topic":"comments:42","value":"hi","headers":{},"createdAt":"2024-01-01T00:00:00Z"}\n\n' +
      'event: ping\ndata: {}\n\n' +
      'event: gap\ndata: {"topic":"comments:42","requested":5,"oldest":90}\n\n' +
      'event: deleted\ndata: {"topic":"comments:42"}\n\n';
    const { events, retries } = collect([text]);
    expect(retries).toEqual([2000]);
    expect(events.map((e) => e.type)).toEqual(['connected', 'message', 'ping', 'gap', 'deleted']);
    expect(JSON.parse(events[1]!.data).value).toBe('hi');
    expect(events[1]!.lastEventId).toBe('101');
  });

  it('can be reused after end() and keeps the last event id', () => {
    const events: SseEvent[] = [];
    const p = new SseParser({ onEvent: (e) => events.push(e) });
    p.feed('id: 4\ndata: a\n\ndata: partial');
    p.end();
    expect(p.lastEventId).toBe('4');
    p.feed('data: b\n\n');
    expect(events.map((e) => [e.data, e.lastEventId])).toEqual([
      ['a', '4'],
      ['b', '4'],
    ]);
  });
});
