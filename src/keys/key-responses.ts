import { KeyRecord } from '../kv/kv.service';

/**
 * The bodies that carry a stored value are assembled as text: the store keeps each value as
 * canonical JSON, so splicing it in gives the same bytes as JSON.stringify of the parsed
 * value, without parsing and re-serialising it on every read.
 */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

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
