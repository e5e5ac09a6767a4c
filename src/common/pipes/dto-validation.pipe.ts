import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { passesDtoRules } from './cached-dto-check';
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
    checkDto(instance, part);
    return instance;
  }
}

/**
 * Checks a DTO instance against its class-validator decorators, unknown properties refused;
 * throws a RequestValidationError naming the first problem's field by its path, within `part`
 * (`body`). Instances that pass are recognised by a check cached per class (passesDtoRules);
 * the others go through validateSync, which decides and words every refusal.
 */
export function checkDto(instance: object, part: string): void {
  if (passesDtoRules(instance)) return;
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  if (errors.length > 0) {
    const problem = firstProblem(errors, '');
    throw new RequestValidationError(problem.path || part, problem.message);
  }
}

/** Built-in types that Nest reports as a parameter's metatype are not DTOs. */
const PLAIN_TYPES: readonly unknown[] = [String, Boolean, Number, Array, Object, Buffer];

function isDtoClass(metatype: unknown): metatype is new () => object {
  return typeof metatype === 'function' && !PLAIN_TYPES.includes(metatype);
}

function firstProblem(
  errors: readonly ValidationError[],
  parent: string,
): { path: string; message: string } {
  const [error] = errors;
  // class-validator's error for an object of no DTO class, which names no property: in a
  // nested array, an entry that is itself an array of objects (`[[{...}]]`).
  if (error.property === undefined) {
    return {
      path: parent.replace(/\[\d+\]$/, ''),
      message: 'an entry must be an object, not an array',
    };
  }
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
