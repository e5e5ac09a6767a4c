import { PipeTransform } from '@nestjs/common';
import { parseJsonDocument } from './json-body';

/**
 * A raw body parsed as JSON by the rules of PUT /key (parseJsonDocument: UTF-8, depth, numbers),
 * for routes whose body is a document with fields (POST /txn) rather than one stored value.
 */
export class JsonBodyPipe implements PipeTransform<unknown, unknown> {
  transform(body: unknown): unknown {
    return parseJsonDocument(body);
  }
}
