import { KeyRecord } from '../kv/kv.service';
import { entityTag } from './conditional-headers';

/**
 * The bodies that carry a stored value are assembled as text: the store keeps each value as
 * canonical JSON, so splicing it in gives the same bytes as JSON.stringify of the parsed
 * value, without parsing and re-serialising it on every read.
 */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** The part of an answer a handler sets; Express's Response and Fastify's reply both have it. */
export interface AnswerHead {
  header(name: string, value: string): unknown;
  status(code: number): unknown;
}

/**
 * Revisions travel in headers so that the bodies stay those of the core contract: the key's
 * ETag (its modRevision), when there is a key, and the store's revision.
 */
export function sendRevisions(answer: AnswerHead, revision: number, record: KeyRecord | null) {
  if (record !== null) answer.header('ETag', entityTag(record.modRevision));
  answer.header('X-Kv-Revision', String(revision));
}

export interface ExpiryView {
  /** Remaining seconds, millisecond precision, or null without expiry. */
  readonly ttl: number | null;
  readonly expiresAt: string | null;
}

export function expiryView(record: KeyRecord, ttl: number | null): ExpiryView {
  return {
    ttl,
    expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString(),
  };
}

export function putBody(record: KeyRecord, ttl: number | null): string {
  return `{"success":true,"key":${JSON.stringify(record.key)},"value":${record.value}${expiryFields(record, ttl)}}`;
}

export function getBody(record: KeyRecord, ttl: number | null, meta: boolean): string {
  const metaFields = meta
    ? `,"createRevision":${record.createRevision},"modRevision":${record.modRevision},"version":${record.version}`
    : '';
  return `{"key":${JSON.stringify(record.key)},"value":${record.value}${expiryFields(record, ttl)}${metaFields}}`;
}

function expiryFields(record: KeyRecord, ttl: number | null): string {
  if (record.expiresAt === null) return '';
  return `,"ttl":${ttl},"expiresAt":"${new Date(record.expiresAt).toISOString()}"`;
}
