import { PipeTransform } from '@nestjs/common';
import { parseJsonBody } from './json-body';

/**
 * A raw body parsed as JSON by the rules of PUT /key (parseJsonBody: UTF-8, depth, numbers),
 * for routes whose body is a document with fields (POST /txn) rather than one stored value.
 */
export class JsonBodyPipe implements PipeTransform<unknown, unknown> {
  transform(body: unknown): unknown {
    return JSON.parse(parseJsonBody(body));
  }
}
