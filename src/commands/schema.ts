import { Command, Option } from "commander";
import { frontmatterJsonSchema, manifestJsonSchema } from "../manifest/json-schema.js";
import type { ManifestKind } from "../manifest/schema.js";

export function schemaCommand(): Command {
  return new Command("schema")
    .description("print the JSON Schema of manifest frontmatter, for editors (both kinds under $defs unless --kind is given)")
    .addOption(new Option("--kind <kind>", "only the schema of one kind of manifest").choices(["bottle", "agent"]))
    .action((options: { kind?: ManifestKind }) => {
      const schema = options.kind ? frontmatterJsonSchema(options.kind) : manifestJsonSchema();
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
