/**
 * Keeps the properties of activity entities on the wire.
 *
 * botframework-connector 4.23.3 serialises outgoing activities with @azure/core-client against
 * its mappers, and its `Entity` mapper names only `type`, `text` and `mentioned`: every other
 * property of an entity is dropped before the request leaves. Teams' "AI generated" label and
 * citations (`additionalType`, `citation`, `@type`) and the stream information that teams-ai's
 * StreamingResponse puts in entities would reach Teams as a bare `{ type }`. The Activity mapper
 * already declares additional properties for its entities, but core-client reads that flag from
 * the referenced `Entity` mapper, so the flag is set there: the fix botbuilder-js intended in
 * microsoft/botbuilder-js#2648. tests/bot/answerStreaming.test.ts proves the entities arrive.
 */
import * as mappers from 'botframework-connector/lib/connectorApi/models/mappers';

export function keepEntityProperties(): void {
  const entity = mappers.Entity as { type: { additionalProperties?: unknown } };
  entity.type.additionalProperties ??= { type: { name: 'Object' } };
}
