import { getMetadataStorage, ValidationArguments, ValidationTypes } from 'class-validator';

/**
 * Whether a DTO instance passes its class-validator decorators, decided with what
 * class-validator registered for the class, looked up once per class. validateSync looks the
 * metadata up again for every object it checks (a scan over every decorated class of the
 * application, for inheritance) and builds an error object for every property, failing or not:
 * most of the cost of a POST /txn body, whose every compare and op is an object of its own.
 *
 * `false` means "not known to pass", never the answer itself: the caller then runs
 * validateSync, which stays the one judge of a refusal and the one source of its message. So
 * this check may be stricter than class-validator (a refusal costs validateSync once more), and
 * must never accept what validateSync refuses. It knows the decorators the application's DTOs
 * use: custom constraints (@IsString, @IsInt, @Min, @IsIn, ValidateBy... with `each` and
 * per-decorator `validateIf`), @ValidateIf, @ValidateNested and @Allow; a class with any other
 * kind, or an async constraint, always goes to validateSync. It applies the options
 * DtoValidationPipe gives validateSync: whitelist, forbidNonWhitelisted, forbidUnknownValues.
 */
export function passesDtoRules(instance: object): boolean {
  const rules = rulesOf(instance.constructor);
  return rules !== undefined && passes(instance, rules);
}

interface Constraint {
  readonly property: string;
  readonly constraints: unknown[];
  readonly each: boolean;
  readonly validateIf: ((object: object, value: unknown) => boolean) | undefined;
  readonly validate: (value: unknown, args: ValidationArguments) => unknown;
}

interface PropertyRules {
  readonly name: string;
  readonly conditions: ((object: object, value: unknown) => boolean)[];
  readonly constraints: Constraint[];
  readonly nested: boolean;
}

interface ClassRules {
  readonly targetName: string;
  readonly properties: readonly PropertyRules[];
  readonly known: ReadonlySet<string>;
}

/** undefined: the class is left to validateSync (unknown decorators, or none at all). */
const compiled = new Map<unknown, ClassRules | undefined>();

type DtoClass = abstract new (...args: never[]) => object;

function rulesOf(target: unknown): ClassRules | undefined {
  if (typeof target !== 'function') return undefined;
  if (!compiled.has(target)) compiled.set(target, compile(target as DtoClass));
  return compiled.get(target);
}

function compile(target: DtoClass): ClassRules | undefined {
  const storage = getMetadataStorage();
  // The arguments validateSync's executor passes when no groups are given.
  const metadatas = storage.getTargetValidationMetadatas(target, '', false, false, undefined);
  if (metadatas.length === 0) return undefined;
  const byName = new Map<string, PropertyRules>();
  for (const metadata of metadatas) {
    const name = metadata.propertyName;
    let rules = byName.get(name);
    if (rules === undefined) {
      rules = { name, conditions: [], constraints: [], nested: false };
      byName.set(name, rules);
    }
    switch (metadata.type) {
      case ValidationTypes.WHITELIST:
        break;
      case ValidationTypes.CONDITIONAL_VALIDATION:
        rules.conditions.push(
          metadata.constraints[0] as (object: object, value: unknown) => boolean,
        );
        break;
      case ValidationTypes.NESTED_VALIDATION:
        (rules as { nested: boolean }).nested = true;
        break;
      case ValidationTypes.CUSTOM_VALIDATION:
        for (const constraint of storage.getTargetValidatorConstraints(metadata.constraintCls)) {
          if (constraint.async) return undefined;
          const instance = constraint.instance;
          rules.constraints.push({
            property: name,
            constraints: metadata.constraints,
            each: metadata.each,
            validateIf: metadata.validateIf,
            validate: (value, args) => instance.validate(value, args),
          });
        }
        break;
      default:
        return undefined;
    }
  }
  return {
    targetName: target.name,
    properties: [...byName.values()],
    known: new Set(byName.keys()),
  };
}

function passes(object: object, rules: ClassRules): boolean {
  for (const name of Object.keys(object)) if (!rules.known.has(name)) return false;
  const record = object as Record<string, unknown>;
  for (const property of rules.properties) {
    const value = record[property.name];
    if (!property.conditions.every((condition) => condition(object, value))) continue;
    for (const constraint of property.constraints) {
      if (constraint.validateIf !== undefined && !constraint.validateIf(object, value)) continue;
      const args: ValidationArguments = {
        targetName: rules.targetName,
        property: constraint.property,
        object,
        value,
        constraints: constraint.constraints,
      };
      if (
        constraint.each &&
        (Array.isArray(value) || value instanceof Set || value instanceof Map)
      ) {
        for (const item of Array.isArray(value) ? value : [...value.values()]) {
          if (constraint.validate(item, args) !== true) return false;
        }
      } else if (constraint.validate(value, args) !== true) {
        return false;
      }
    }
    if (property.nested && value !== undefined && !nestedPasses(value)) return false;
  }
  return true;
}

/** A nested value passes as an instance of a class that passes, or as an array of such. */
function nestedPasses(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(nestedPasses);
  if (typeof value !== 'object' || value === null) return false;
  const rules = rulesOf(value.constructor);
  return rules !== undefined && passes(value, rules);
}
