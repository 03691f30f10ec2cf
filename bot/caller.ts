/**
 * The caller of a card invoke as the directory knows them now, from the activity itself (tenant +
 * Entra object id), never from card data. Undefined when the activity names no one Kluis knows.
 */
import type { TurnContext } from 'botbuilder';
import { isKluisError } from '../api/errors';
import type { AuthMethod, Principal } from '../api/tenancy/principal';
import type { Principals } from '../api/tenancy/principals';

export async function callerOf(deps: { principals: Principals; authMethod: AuthMethod }, context: TurnContext): Promise<Principal | undefined> {
  const a = context.activity;
  const tenantId = (a.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id ?? a.conversation?.tenantId;
  const oid = a.from?.aadObjectId;
  if (!tenantId || !oid) return undefined;
  try {
    return await deps.principals.resolve({ tenantId, entraObjectId: oid, displayName: a.from.name, authMethod: deps.authMethod });
  } catch (error) {
    if (isKluisError(error)) return undefined;
    throw error;
  }
}
