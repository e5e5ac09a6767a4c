import { RefusesUnknownParameters } from './query-fields';

/** The query of a write that takes no parameters (DELETE /key, PUT /ttl, POST /txn). */
@RefusesUnknownParameters()
export class NoQueryParametersDto {}
