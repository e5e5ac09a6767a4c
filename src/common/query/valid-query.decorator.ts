import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { QueryDtoClass, queryReader } from './query-dto';
import { requestOf } from '../request-of';

/**
 * Reads from the raw target rather than the platform's parsed `query`: Express and Fastify
 * parse differently, and both turn bytes that are not UTF-8 into U+FFFD (see query-string.ts).
 */
const QueryOfDto = createParamDecorator(
  (read: (url: string) => object, context: ExecutionContext) => {
    const request = requestOf<{ originalUrl?: string; url: string }>(context);
    return read(request.originalUrl ?? request.url);
  },
);

/**
 * `@ValidQuery() query: PutKeyQueryDto`: the request's query as the parameter's DTO class,
 * validated with class-transformer and class-validator (see queryDtoFromUrl), and described
 * in the OpenAPI document from the same class, one query parameter per field. The validation
 * runs in the decorator rather than in a pipe: Nest settles a pipe through promises on every
 * request, a cost the hot path would pay even for a request without a query.
 */
export function ValidQuery(): ParameterDecorator {
  return (target, method, index) => {
    if (method === undefined) throw new Error('@ValidQuery() decorates a handler parameter');
    const types = Reflect.getMetadata('design:paramtypes', target, method) as QueryDtoClass[];
    const dto = types[index];
    QueryOfDto(queryReader(dto))(target, method, index);
    const descriptor = Object.getOwnPropertyDescriptor(target, method)!;
    ApiQuery({ type: dto, required: false })(target, method, descriptor);
  };
}
