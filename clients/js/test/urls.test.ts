import { describe, expect, it } from 'vitest';
import {
  formatStreamId,
  historyUrl,
  parseStreamId,
  positionString,
  sseUrl,
  streamIdString,
  toBigInt,
  topicUrl,
  topicsUrl,
} from '../src/urls.js';

describe('URL building', () => {
  it('builds topic URLs and strips trailing slashes from the base', () => {
    expect(topicsUrl('http://h:8080/')).toBe('http://h:8080/topics');
    expect(topicUrl('http://h:8080//', 'demo')).toBe('http://h:8080/topics/demo');
    expect(topicUrl('https://x.io/repl/', 'demo', '/batch')).toBe('https://x.io/repl/topics/demo/batch');
  });

  it('supports a same-origin (relative) base', () => {
    expect(topicsUrl('')).toBe('/topics');
    expect(topicsUrl('/')).toBe('/topics');
    expect(sseUrl('/', 'a')).toBe('/topics/a/sse');
  });

  it('encodes topic names as one path segment', () => {
    expect(topicUrl('http://h', 'comments:42')).toBe('http://h/topics/comments%3A42');
    expect(topicUrl('http://h', 'a b/c?d#e')).toBe('http://h/topics/a%20b%2Fc%3Fd%23e');
    expect(topicUrl('http://h', 'ünï')).toBe('http://h/topics/%C3%BCn%C3%AF');
    expect(sseUrl('http://h', 'comments:42')).toBe('http://h/topics/comments%3A42/sse');
  });

  it('uses /sse?topic=..&topic=.. for several topics', () => {
    const url = sseUrl('http://h', ['comments:42', 'a&b', 'plain']);
    expect(url).toBe('http://h/sse?topic=comments%3A42&topic=a%26b&topic=plain');
    expect(new URL(url).searchParams.getAll('topic')).toEqual(['comments:42', 'a&b', 'plain']);
  });

  it('a one-element array is the single-topic route', () => {
    expect(sseUrl('http://h', ['x'])).toBe('http://h/topics/x/sse');
  });

  it('adds lastEventId and access_token', () => {
    expect(sseUrl('http://h', 't', { lastEventId: '123' })).toBe('http://h/topics/t/sse?lastEventId=123');
    const url = sseUrl('http://h', ['a', 'b'], { lastEventId: '9007199254740993', accessToken: 'eyJ.a+b/c=' });
    const q = new URL(url).searchParams;
    expect(q.getAll('topic')).toEqual(['a', 'b']);
    expect(q.get('lastEventId')).toBe('9007199254740993');
    expect(q.get('access_token')).toBe('eyJ.a+b/c=');
    expect(url).toContain('access_token=eyJ.a%2Bb%2Fc%3D');
  });

  it('omits empty options', () => {
    expect(sseUrl('http://h', 't', { lastEventId: undefined, accessToken: undefined })).toBe('http://h/topics/t/sse');
    expect(sseUrl('http://h', 't', { lastEventId: '', accessToken: '' })).toBe('http://h/topics/t/sse');
  });

  it('rejects an empty topic list', () => {
    expect(() => sseUrl('http://h', [])).toThrow(TypeError);
  });

  it('builds history URLs', () => {
    expect(historyUrl('http://h', 'comments:42')).toBe('http://h/topics/comments%3A42/messages');
    expect(historyUrl('http://h', 't', '10', 50)).toBe('http://h/topics/t/messages?after=10&limit=50');
    expect(historyUrl('http://h', 't', undefined, 5)).toBe('http://h/topics/t/messages?limit=5');
  });
});

describe('positions', () => {
  it('normalises positions to decimal strings', () => {
    expect(positionString(42)).toBe('42');
    expect(positionString('0042')).toBe('42');
    expect(positionString(9007199254740993n)).toBe('9007199254740993');
    expect(positionString(undefined)).toBeUndefined();
    expect(() => positionString(1.5)).toThrow(TypeError);
    expect(() => positionString('-1')).toThrow(TypeError);
    expect(() => positionString('abc')).toThrow(TypeError);
  });

  it('compares beyond 2^53 exactly', () => {
    const a = toBigInt('9007199254740993')!;
    const b = toBigInt('9007199254740992')!;
    expect(a > b).toBe(true);
    expect(toBigInt('x')).toBeNull();
  });

  it('parses and formats stream ids (position@epoch), a bare position still being one', () => {
    expect(parseStreamId('42@9f3a1c0b')).toEqual({ position: 42n, epoch: '9f3a1c0b' });
    expect(parseStreamId('42')).toEqual({ position: 42n });
    expect(parseStreamId(7)).toEqual({ position: 7n });
    for (const bad of ['42@', '@9f3a1c0b', '42@xyz', 'x@9f3a1c0b', undefined]) expect(parseStreamId(bad)).toBeNull();
    expect(formatStreamId(42n, '9f3a1c0b')).toBe('42@9f3a1c0b');
    expect(formatStreamId(42n, null)).toBe('42');
    expect(streamIdString(' 042@9f3a1c0b')).toBe('42@9f3a1c0b');
    expect(streamIdString(41)).toBe('41');
    expect(() => streamIdString('41@zz')).toThrow(TypeError);
  });
});
