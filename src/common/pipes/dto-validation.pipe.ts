import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { RequestValidationError } from './request-validation.error';

/**
 * Turns an already-parsed request part (a body, a query) into its DTO class with
 * class-transformer and checks it with class-validator. Unknown properties are refused
 * (whitelist), and the first problem becomes a RequestValidationError whose message names the
 * field by its path (`success[2].ttl`), which the exception filter answers as 400
 * `{"error": "..."}`. Parameters without a DTO class pass through unchanged.
 */
@Injectable()
export class DtoValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const dto = metadata.metatype;
    if (dto === undefined || !isDtoClass(dto)) return value;
    const part = metadata.type === 'body' ? 'body' : metadata.type;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new RequestValidationError(part, 'must be a JSON object');
    }
    const instance = plainToInstance(dto, value) as object;
    const errors = validateSync(instance, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
    });
    if (errors.length > 0) {
      const problem = firstProblem(errors, '');
      throw new RequestValidationError(problem.path || part, problem.message);
    }
    return instance;
  }
}

/** Built-in types that Nest reports as a parameter's metatype are not DTOs. */
const PLAIN_TYPES: readonly unknown[] = [String, Boolean, Number, Array, Object, Buffer];

function isDtoClass(metatype: unknown): metatype is new () => object {
  return typeof metatype === 'function' && !PLAIN_TYPES.includes(metatype);
}

function firstProblem(errors: readonly ValidationError[], parent: string) {
  const [error] = errors;
  const path = /^\d+$/.test(error.property)
    ? `${parent}[${error.property}]`
    : parent === ''
      ? error.property
      : `${parent}.${error.property}`;
  if (error.constraints !== undefined) {
    return { path, message: Object.values(error.constraints)[0] };
  }
  return firstProblem(error.children ?? [], path);
}
