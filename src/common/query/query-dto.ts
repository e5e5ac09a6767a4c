import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, ValidationError } from 'class-validator';
import { InvalidQueryError } from './invalid-query.error';
import { refusesUnknownParameters } from './query-fields';
import { parseQueryString, RawQueryValue } from './query-string';

export type QueryDtoClass<T extends object = object> = new () => T;

interface QueryDtoShape {
  /** The parameters the DTO has a field for, in declaration order. */
  readonly names: readonly string[];
  readonly refusesUnknown: boolean;
  /** The DTO of an empty query, shared by every request that sends none. */
  readonly empty: object;
}

function shapeOf(dto: QueryDtoClass): QueryDtoShape {
  const fields = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  return {
    names: [...new Set(fields.map((field) => field.propertyName))],
    refusesUnknown: refusesUnknownParameters(dto),
    empty: Object.freeze(plainToInstance(dto, {})),
  };
}

/**
 * Reads the query of a request target as the DTO class, checked by class-validator: the first
 * problem is an InvalidQueryError naming the parameter. A target without a query gets the
 * DTO's shared empty instance: the GET and PUT /key hot path pays for no parsing and no
 * validation of parameters it was not sent. Only the DTO's parameters are read: the others
 * are ignored, or refused on a DTO marked RefusesUnknownParameters. What the reader learns of
 * the class is worked out once, on its first request.
 */
export function queryReader<T extends object>(dto: QueryDtoClass<T>): (url: string) => T {
  let shape: QueryDtoShape | undefined;
  return (url) => {
    shape ??= shapeOf(dto);
    const queryAt = url.indexOf('?');
    if (queryAt === -1 || queryAt === url.length - 1) return shape.empty as T;
    return readQuery(dto, shape, url.slice(queryAt + 1));
  };
}

function readQuery<T extends object>(
  dto: QueryDtoClass<T>,
  shape: QueryDtoShape,
  query: string,
): T {
  const { values, hasUndecodableName } = parseQueryString(query);
  const known: Record<string, RawQueryValue> = {};
  let unknown = hasUndecodableName;
  for (const name in values) {
    if (shape.names.includes(name)) known[name] = values[name];
    else unknown = true;
  }
  if (unknown && shape.refusesUnknown) throw new InvalidQueryError(unknownMessage(shape.names));
  const instance = plainToInstance(dto, known);
  // The instance is always of the DTO class; a DTO without fields (NoQueryParametersDto)
  // would fail class-validator's default check for objects it knows nothing about.
  const errors = validateSync(instance, { forbidUnknownValues: false });
  if (errors.length > 0) throw new InvalidQueryError(firstMessage(errors[0]));
  return instance;
}

/** The unknown name is not echoed: error bodies echo nothing of the request beyond the key. */
function unknownMessage(names: readonly string[]): string {
  if (names.length === 0) return 'Unknown query parameter: this route takes none';
  const list =
    names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `Unknown query parameter: this route takes only ${list}`;
}

function firstMessage(error: ValidationError): string {
  return Object.values(error.constraints ?? {})[0] ?? `${error.property} is invalid`;
}
