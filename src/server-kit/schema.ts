/**
 * The JSON Schema validator a test server checks request bodies against its vendor spec's definitions with. A
 * module of its own so that a server that validates otherwise (the Twilio emulator's params.ts) never loads Ajv.
 */
import { Ajv, type Format } from "ajv";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule.default;

/**
 * Ajv as the vendor specs need it: every keyword a spec uses without complaint (they carry vendor extensions),
 * every finding reported, the standard formats and the spec's own (`unixtime`, `int32`, ...).
 */
export function schemaValidator(formats: Record<string, Format> = {}): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const [name, format] of Object.entries(formats)) ajv.addFormat(name, format);
  return ajv;
}
